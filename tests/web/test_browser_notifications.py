"""What the platform itself sends, seen in the real headless Chromium (as test_browser.py drives it):
a student adds a contact by hand (its error state first), chooses the webhook channel for follow-ups
and registers an endpoint whose receiver answers 410 Gone, writes a note with an action item (due at
once: no date); the followups announcer, the notification policies and the dispatcher then put the
follow-up in the inbox and post it to the webhook, which the 410 disables. The student reads the
notification in the inbox, sees the endpoint disabled and why, enables it again, and deletes the
note through its confirmation page. axe-core finds no WCAG 2.0/2.1 A/AA violation on any page.

These need the dispatcher, the policy worker and the announcer, which the other web tests do not
start (their notifications would reach those tests' students), so this module runs a platform of its
own: fresh stores, the same Procfile commands."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.platform import Platform, profile_env
from tests.web.conftest import artifacts_dir
from tests.web.test_browser import Visit, browser, demo_sign_in, has_text  # noqa: F401  (the module's browser fixture)

pytestmark = pytest.mark.browser

PROCESSES = ("web", "contacts-api", "contacts-relay", "contacts-directory", "scheduling-api", "notes-api",
             "notes-relay", "notes-views", "followups-api", "followups-relay", "followups-views", "followups-announcer",
             "notifications-api", "notifications-relay", "notifications-views", "notifications-policies",
             "notifications-dispatcher")
ACTION = "Send Grace the article on compilers"


@pytest.fixture(scope="module")
def notifying_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    data = tmp_path_factory.mktemp("web-notifying")
    with Platform(data, {**profile_env("embedded", data), "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.0/8",
                         "FOLLOWUPS_ANNOUNCE_INTERVAL_SECONDS": "1"}).running(*PROCESSES) as platform:
        yield platform


class GoneReceiver:
    """A webhook receiver that answers every delivery 410 Gone: a permanent failure, which disables
    the endpoint at once (WEBHOOK_DISABLE_AFTER_FAILURES counts only failures worth retrying)."""

    def __init__(self) -> None:
        self.deliveries: list[bytes] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver.deliveries.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.send_response(410)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/gone"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_follow_up_reaches_the_inbox_and_disables_a_gone_webhook_which_the_student_enables_again(
        notifying_platform: Platform, browser: object) -> None:  # noqa: F811
    base = notifying_platform.url("web")
    receiver = GoneReceiver()
    context = browser.new_context(locale="en-GB")  # type: ignore[attr-defined]
    page = context.new_page()
    visit = Visit(page, base, artifacts_dir(), keyboard_only=False)

    def click(role: str, name: str, exact: bool = True) -> None:
        with page.expect_navigation():
            page.get_by_role(role, name=name, exact=exact).click()

    try:
        demo_sign_in(page, base, "student-1", "student")

        # -- a contact added by hand: no name first (the error at the field), then one
        page.goto(f"{base}/contacts")
        click("link", "Add a contact")
        visit.check("contact-new")
        page.locator("input#organisation").fill("US Navy")
        click("button", "Add the contact")
        assert page.locator("input#name").get_attribute("aria-describedby") == "name-error"
        assert page.locator("input#organisation").input_value() == "US Navy"
        visit.check("contact-new-error")
        page.locator("input#name").fill("Grace Hopper")
        page.locator("textarea#emails").fill("grace@example.com")
        page.locator("input#industry").fill("Computing")
        click("button", "Add the contact")
        assert page.get_by_role("heading", name="Grace Hopper", level=1).is_visible()
        assert "Added Grace Hopper." in visit.text()

        # -- follow-ups by webhook too, to an endpoint that answers 410 Gone
        page.goto(f"{base}/settings")
        page.locator("input#channel-follow_up_due-webhook").check()
        click("button", "Save the preferences")
        page.locator("input#url").fill(receiver.url)
        click("button", "Register the webhook")
        click("link", "Back to your settings")
        assert page.get_by_role("table", name="Your webhook endpoints").get_by_role(
            "rowheader", name=receiver.url).count() == 1

        # -- a note with an action item without a date: due at once
        page.goto(f"{base}/contacts")
        visit.reload_until(has_text("Grace Hopper"))
        click("link", "Grace Hopper")
        click("link", "Write a note about Grace Hopper")
        page.locator("textarea#text").fill("Compilers, and why she kept a nanosecond of wire.")
        page.locator("input#item-0-text").fill(ACTION)
        click("button", "Save the note")
        note_url = page.url

        # -- the platform's notification, in the inbox (the policies and the dispatcher put it there)
        page.goto(f"{base}/inbox")
        visit.reload_until(has_text(f"Action item: {ACTION}"), seconds=60)
        assert "1 unread" in visit.text()
        visit.check("inbox-notified")
        click("button", "Mark as read", exact=False)
        assert "Marked as read." in visit.text() and "0 unread" in visit.text()
        visit.check("inbox-read")
        assert receiver.deliveries and ACTION.encode() in receiver.deliveries[0]  # the webhook was posted to

        # -- the endpoint, disabled by the 410, and enabled again by its owner
        page.goto(f"{base}/settings")
        visit.reload_until(has_text("Disabled"), seconds=30)
        row = page.get_by_role("table", name="Your webhook endpoints").get_by_role("row").nth(1)
        assert "410" in row.inner_text(), row.inner_text()
        visit.check("settings-webhook-disabled")
        click("button", "Enable again", exact=False)
        assert "The webhook is enabled again" in visit.text()
        visit.reload_until(has_text("Enabled"), seconds=15)
        assert page.get_by_role("button", name="Enable again").count() == 0
        visit.check("settings-webhook-enabled")

        # -- the home page names the contact of the follow-up; then the note is deleted, after asking
        page.goto(f"{base}/")
        assert page.get_by_role("link", name="Open Grace Hopper").count() == 1
        page.goto(note_url)
        click("link", "Delete this note")
        assert page.get_by_role("heading", name="Delete your note about Grace Hopper?").is_visible()
        visit.check("note-delete")
        click("button", "Delete the note")
        assert "Note deleted" in visit.text() and "Grace Hopper" not in page.locator("table").all_inner_texts()
        visit.check("notes-after-delete")
    finally:
        context.close()
        receiver.close()
