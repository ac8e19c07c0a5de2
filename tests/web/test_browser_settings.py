"""The settings pages and the contact page's additions in the real headless Chromium (as
test_browser.py: Debian's Chromium through Playwright, axe-core at WCAG 2.0/2.1 A and AA on every
page and on an error state of each new form, no Content-Security-Policy refusal, a screenshot of
each under var/test-artifacts/web/). Keyboard only, as the must-show journey: Tab to each control,
type, Space and Enter, with no pointer event on any page.

`WEB_DOCS_SCREENSHOTS=1` (make web-screenshots) also writes small copies of the main pages'
screenshots, this module's and the journey's, to docs/screenshots/ for the README."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from shared.auth import mint_token
from tests.platform import ROOT, Platform
from tests.web.conftest import artifacts_dir, assign_advisor
from tests.web.test_browser import COUNT_POINTER, Visit, has_text, installed

pytestmark = pytest.mark.browser
playwright_sync = pytest.importorskip("playwright.sync_api")
STUDENT = "student-5"
# the README's screenshots: (artifact, what it shows); the journey's and this module's
DOC_SHOTS = ("home", "contact-more", "interview-scheduled", "note", "settings", "settings-error", "inbox",
             "advisor-student")


def shrink(source: Path, target: Path, width: int = 900, height: int = 1400) -> None:
    """A README-sized copy: the top of the page, scaled to `width`, in a 64-colour palette (a few tens of KB)."""
    from PIL import Image  # only here: make web-screenshots; the tests themselves need no imaging

    with Image.open(source) as image:
        top = image.crop((0, 0, image.width, min(image.height, int(height * image.width / width))))
        scaled = top.resize((width, int(top.height * width / top.width)), Image.Resampling.LANCZOS)
        scaled.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(target, optimize=True)


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    with playwright_sync.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=installed("chromium/install.sh"), headless=True)
        yield launched
        launched.close()
    if os.environ.get("WEB_DOCS_SCREENSHOTS"):
        docs = ROOT / "docs" / "screenshots"
        docs.mkdir(parents=True, exist_ok=True)
        for name in DOC_SHOTS:
            if (artifacts_dir() / f"{name}.png").exists():
                shrink(artifacts_dir() / f"{name}.png", docs / f"{name}.png")


def api(platform: Platform, method: str, service: str, path: str, user: str = STUDENT, role: str = "student",
        **kwargs: object) -> requests.Response:
    token = mint_token(platform.env["CAREERLOOP_JWT_SECRET"], user, [role])
    answer = requests.request(method, f"{platform.url(service)}{path}", timeout=10,
                              headers={"Authorization": f"Bearer {token}"}, **kwargs)  # type: ignore[arg-type]
    assert answer.status_code < 300, answer.text
    return answer


def test_settings_inbox_access_log_and_the_contact_pages_additions_by_keyboard(
        web_platform: Platform, chromium: object) -> None:
    base = web_platform.url("web")
    # what this test starts from, through the APIs: two contacts with the same name, and a shared note
    # an advisor has read (so the access log has a row)
    for email, org in (("ada@example.com", "Analytical Engines"), ("ada.l@example.org", "Royal Society")):
        api(web_platform, "POST", "contacts", "/contacts", json={"name": "Ada Lovelace", "emails": [email],
                                                                 "organisation": org})
    context = chromium.new_context(locale="en-GB", has_touch=False)  # type: ignore[attr-defined]
    context.add_init_script(COUNT_POINTER)
    page = context.new_page()
    visit = Visit(page, base, artifacts_dir())
    try:
        page.goto(f"{base}/sign-in")
        visit.choose("select#user", STUDENT)
        visit.press("form[action='/sign-in/demo'] button[type=submit]")

        # -- settings: an address is needed for e-mail; the error is tied to the field
        visit.press("nav a[href='/settings']")
        visit.check("settings")
        visit.tab_to("input#channel-thank_you_due-email")
        page.keyboard.press("Space")
        visit.press("form[action='/settings/preferences'] button[type=submit]")
        assert page.locator("#email-error").is_visible()
        assert page.locator("input#email").get_attribute("aria-describedby") == "email-hint email-error"
        visit.check("settings-error")
        visit.type_into("input#email", "five@example.com")
        visit.choose("select#time_zone", "America/Sao_Paulo")
        visit.enter("input#quiet-start", "22:00")
        visit.enter("input#quiet-end", "07:30")
        visit.press("form[action='/settings/preferences'] button[type=submit]")
        assert "Times now show in America/Sao_Paulo" in visit.text()

        # -- webhooks: a bad address, then one registered (its secret shown once), listed, removed
        visit.type_into("input#url", "ftp://hooks.example.com")
        visit.press("form[action='/settings/webhooks'] button[type=submit]")
        assert page.locator("#url-error").is_visible()
        visit.check("settings-webhook-error")
        page.locator("input#url").fill("")
        visit.type_into("input#url", "http://127.0.0.1:9/five")
        visit.press("form[action='/settings/webhooks'] button[type=submit]")
        secret = page.locator("input#secret").input_value()
        assert len(secret) > 20
        visit.check("settings-webhook-secret")
        visit.press("a", "Back to your settings")
        assert page.get_by_role("table", name="Your webhook endpoints").get_by_role(
            "rowheader", name="http://127.0.0.1:9/five").count() == 1
        assert secret not in page.content()
        visit.check("settings-webhooks")
        visit.press("button", "Remove http://127.0.0.1:9/five for good")
        assert "The webhook is removed" in visit.text() and "127.0.0.1:9/five" not in visit.text()

        # -- the inbox
        visit.press("nav a[href='/inbox']")
        assert "Times are in America/Sao Paulo" in visit.text()
        visit.check("inbox")

        # -- the contact page: cadence (the API's range, said on the field), a detailed touchpoint
        visit.press("nav a[href='/contacts']")
        visit.reload_until("document.querySelectorAll('table a').length == 2")
        visit.press("table a", "Ada Lovelace")
        visit.check("contact-more")
        visit.type_into("input#every_weeks", "60")
        visit.press("form[action$='/cadence'] button[type=submit]", "Save the cadence")
        assert page.locator("#every_weeks-error").is_visible()
        visit.check("contact-cadence-error")
        page.locator("input#every_weeks").fill("")
        visit.type_into("input#every_weeks", "6")
        visit.press("form[action$='/cadence'] button[type=submit]", "Save the cadence")
        assert "Now every 6 weeks." in visit.text()
        visit.tab_to("details > summary")
        page.keyboard.press("Enter")  # opens the disclosure
        visit.choose("select#tp-kind", "article")
        visit.press("form[action$='/touchpoints/detailed'] button[type=submit]")  # no time given
        assert page.locator("#tp-when-error").is_visible()
        visit.check("contact-touchpoint-error")
        visit.enter("input#tp-when", "2026-03-02T09:30")
        visit.type_into("input#tp-url", "https://example.com/notes-on-the-engine")
        visit.press("form[action$='/touchpoints/detailed'] button[type=submit]")
        assert "Recorded: I shared an article" in visit.text()

        # -- editing (a bad profile URL first), then merging the other Ada into this one
        visit.press("a", "Edit Ada Lovelace's details")
        visit.check("contact-edit")
        visit.type_into("input#linkedin_url", "https://example.com/ada")
        visit.press("form[action$='/edit'] button[type=submit]")
        assert page.locator("#linkedin_url-error").is_visible()
        visit.check("contact-edit-error")
        page.locator("input#linkedin_url").fill("")
        visit.type_into("input#title", "Mathematician")
        visit.press("form[action$='/edit'] button[type=submit]")
        assert "Details saved." in visit.text() and "Mathematician" in visit.text()
        visit.press("a", "Merge a duplicate into Ada Lovelace")
        visit.check("contact-merge")
        visit.press("form[method=get] button[type=submit]", "Review the merge")
        assert "cannot be undone" in visit.text()
        visit.check("contact-merge-review")
        visit.press("form[action$='/merge'] button[type=submit]")
        assert "Merged:" in visit.text()
        assert "ada@example.com" in visit.text() and "ada.l@example.org" in visit.text()

        # -- the access log of the shared notes (a note shared and read through the APIs)
        contact_id = page.url.rsplit("/", 1)[-1]
        note = api(web_platform, "POST", "notes", "/notes", json={"contact_id": contact_id, "text": "Engines.",
                                                                  "visibility": "shared"}).json()
        assign_advisor(web_platform, "advisor-1", STUDENT)
        api(web_platform, "GET", "notes", f"/notes/{note['id']}", "advisor-1", "advisor")
        visit.press("nav a[href='/notes']")
        visit.press("a", "Who read your shared notes")
        visit.reload_until(has_text("advisor-1"))
        assert page.get_by_role("table", name="Reads of your shared notes").get_by_role("row").count() == 2
        visit.check("access-log")
    finally:
        context.close()
