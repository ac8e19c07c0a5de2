"""The web front end in a real headless Chromium (Debian's, from infra/chromium/install.sh), driven by
Playwright for Python, through issue 18's must-show journey: a student signs in, imports a LinkedIn
file, requests and schedules an interview across time zones, records a note with an action item,
sees the thank-you item appear, marks it done, and an advisor sees the shared note.

The student's part is keyboard only: Tab reaches every control and link used, Enter and Space
operate them, text is typed; the values of a select, a date or a file are set on the focused control
as the keyboard would (Playwright's `select_option`, `fill`, `set_input_files`: no pointer involved).
A listener counts pointer and mouse events on every page and each check asserts there were none.
axe-core (infra/axe/install.sh) checks every page visited, one error state of each form included,
against WCAG 2.0/2.1 A and AA; a screenshot of each page is kept under var/test-artifacts/web/; the
Content-Security-Policy must refuse nothing."""
from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests

from shared.auth import mint_token
from tests.platform import ROOT, Platform
from tests.web.conftest import LINKEDIN, artifacts_dir, assign_advisor, wall

pytestmark = pytest.mark.browser
playwright_sync = pytest.importorskip("playwright.sync_api")

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# Added to every page before its own content (through the DevTools protocol: the page's CSP does not
# apply): counts what a pointer would cause and the keyboard never does.
COUNT_POINTER = ("window.careerloopPointer = 0; for (const kind of ['pointerdown', 'mousedown', 'mouseup', "
                 "'mousemove', 'wheel']) { window.addEventListener(kind, () => { window.careerloopPointer += 1; }, "
                 "true); }")


@cache
def installed(script: str) -> str:
    """The path a repository installer prints (installing when missing)."""
    return subprocess.run([str(ROOT / "infra" / script)], check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_sync.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=installed("chromium/install.sh"), headless=True)
        yield launched
        launched.close()


class Visit:
    """One browser page, checked by axe-core at each step and photographed."""

    def __init__(self, page: object, base: str, shots: Path, keyboard_only: bool = True) -> None:
        self.page, self.base, self.shots, self.keyboard_only = page, base, shots, keyboard_only
        self.axe = Path(installed("axe/install.sh")).read_text()
        self.refused: list[str] = []
        page.on("console", lambda message: self.refused.append(message.text)  # type: ignore[attr-defined]
                if "Content Security Policy" in message.text else None)

    def check(self, name: str) -> None:
        """Zero axe violations at the WCAG A/AA tags, and a screenshot named `name`."""
        page = self.page
        # evaluate runs through the DevTools protocol, which the page's CSP does not govern (no inline script)
        page.evaluate(self.axe)  # type: ignore[attr-defined]
        result = page.evaluate(  # type: ignore[attr-defined]
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
            WCAG_TAGS)
        violations = [(v["id"], v["help"], [n["target"] for n in v["nodes"]]) for v in result["violations"]]
        page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]
        assert violations == [], f"{name}: {violations}"
        assert self.refused == [], f"{name}: the Content-Security-Policy refused {self.refused}"
        if self.keyboard_only:
            assert page.evaluate("window.careerloopPointer") == 0, f"{name}: a pointer was used"  # type: ignore[attr-defined]

    def tab_to(self, selector: str, text: str | None = None, limit: int = 150) -> None:
        """Press Tab until the element `selector` (with `text`, when given) has the focus (keyboard only)."""
        page = self.page
        for _ in range(limit):
            page.keyboard.press("Tab")  # type: ignore[attr-defined]
            if page.evaluate("([s, t]) => document.activeElement.matches(s) && "  # type: ignore[attr-defined]
                             "(t === null || document.activeElement.textContent.trim() === t)", [selector, text]):
                return
        raise AssertionError(f"{selector} cannot be reached with the Tab key")


    def press(self, selector: str, text: str | None = None) -> None:
        """Tab to a link or button and press Enter on it: the page it leads to."""
        self.tab_to(selector, text)
        with self.page.expect_navigation():  # type: ignore[attr-defined]
            self.page.keyboard.press("Enter")  # type: ignore[attr-defined]

    def type_into(self, selector: str, text: str) -> None:
        self.tab_to(selector)
        self.page.keyboard.type(text)  # type: ignore[attr-defined]

    def choose(self, selector: str, value: str) -> None:
        """Tab to a select and choose the option with `value` (what arrow keys or typing its name do)."""
        self.tab_to(selector)
        self.page.locator(selector).select_option(value)  # type: ignore[attr-defined]

    def enter(self, selector: str, value: str) -> None:
        """Tab to a date, time or file-less control and give it its value (as typing its parts does)."""
        self.tab_to(selector)
        self.page.locator(selector).fill(value)  # type: ignore[attr-defined]

    def reload_until(self, condition: str, seconds: float = 40) -> None:
        """Reload (as F5 does) until the page shows `condition` (a JS expression): a read model catching up."""
        page = self.page
        for _ in range(int(seconds / 0.5)):
            if page.evaluate(condition):  # type: ignore[attr-defined]
                return
            page.wait_for_timeout(500)  # type: ignore[attr-defined]
            page.reload()  # type: ignore[attr-defined]
        raise AssertionError(f"the page never showed {condition}")

    def text(self) -> str:
        return str(self.page.inner_text("main"))  # type: ignore[attr-defined]


def demo_sign_in(page: object, base: str, user: str, role: str) -> None:
    """Sign in with the demo form of the sign-in page as `user` in `role` (the page it leads to)."""
    page.goto(f"{base}/sign-in")  # type: ignore[attr-defined]
    page.locator("select#user").select_option(user)  # type: ignore[attr-defined]
    page.locator("select#role").select_option(role)  # type: ignore[attr-defined]
    with page.expect_navigation():  # type: ignore[attr-defined]
        page.locator("form[action='/sign-in/demo'] button[type=submit]").click()  # type: ignore[attr-defined]


def has_text(text: str) -> str:
    """A JS expression: the main content shows `text`."""
    return f"document.querySelector('main').innerText.includes({text!r})"


def test_the_must_show_journey_student_by_keyboard_only_then_the_advisor(
        web_platform: Platform, browser: object, tmp_path: Path) -> None:
    base = web_platform.url("web")
    assign_advisor(web_platform, "advisor-1", "student-2")  # the career office's part (no page for it yet)
    context = browser.new_context(locale="en-GB", has_touch=False)  # type: ignore[attr-defined]
    context.add_init_script(COUNT_POINTER)
    page = context.new_page()
    visit = Visit(page, base, artifacts_dir())
    try:
        # -- signs in: the sign-in page, reached by following the home page's redirect
        page.goto(f"{base}/")
        assert page.url.startswith(f"{base}/sign-in")
        visit.check("sign-in")
        visit.tab_to("a.skip-link")  # the skip link comes first
        visit.tab_to("select#user")
        page.keyboard.press("ArrowDown")  # Student Two: a student of this test alone
        visit.tab_to("select#role")
        visit.press("form[action='/sign-in/demo'] button[type=submit]")
        assert page.url == f"{base}/"
        assert page.get_by_text("Signed in as Student Two").is_visible()
        visit.check("home")

        # -- imports a LinkedIn file (after a file that is not one: its error next to the field)
        visit.press("nav a[href='/imports/new']")
        visit.check("import")
        bad = tmp_path / "notes.txt"
        bad.write_text("this is not a contacts file\n")
        visit.tab_to("input#file")
        page.locator("input#file").set_input_files(str(bad))  # what the file dialog does
        visit.press("form[action='/imports'] button[type=submit]")
        assert page.locator("#file-error").is_visible()
        assert page.locator("input#file").get_attribute("aria-describedby") == "file-hint file-error"
        assert page.get_by_role("alert").get_by_role("link", name="File:").count() == 1
        visit.check("import-error")
        good = tmp_path / "Connections.csv"
        good.write_bytes(LINKEDIN)
        visit.tab_to("input#file")
        page.locator("input#file").set_input_files(str(good))
        visit.press("form[action='/imports'] button[type=submit]")
        assert page.get_by_role("heading", name="Import report").is_visible()
        assert page.get_by_role("table", name="What became of each record").get_by_role("row").count() == 4
        visit.check("import-report")

        # the directory lists the imported contacts (its read model follows within a moment)
        visit.press("nav a[href='/contacts']")
        visit.reload_until("!!document.querySelector('table a')")
        table = page.get_by_role("table")
        assert table.get_by_role("columnheader", name="Name").count() == 1
        assert table.get_by_role("link", name="Sam Lee").count() == 1
        visit.check("contacts")
        visit.press("table a", "Jane Doe")
        assert page.get_by_role("heading", name="Jane Doe", level=1).is_visible()
        assert page.get_by_text("Engineer at Acme, Inc.").is_visible()
        visit.check("contact")
        visit.press("button", "Add the tag")  # no tag written: the error is said next to the field
        assert page.locator("#tag-error").is_visible()
        visit.check("contact-tag-error")

        # -- requests an interview: objectives, a category of starter questions, both parties' zones
        visit.press("a", "Request an interview with Jane Doe")
        assert page.get_by_text("What do you wish you had known when you were starting out?").is_visible()
        visit.check("interview-request")
        visit.press("form[action='/interviews'] button[type=submit]")  # no objective yet
        assert page.locator("#objectives-error").is_visible()
        visit.check("interview-request-error")
        visit.type_into("textarea#objectives", "Learn how her team decides what to build\nHear how she started")
        visit.tab_to("input#starter-advice")
        page.keyboard.press("Space")
        visit.choose("select#time_zone", "Europe/London")
        visit.choose("select#contact_time_zone", "America/New_York")
        visit.press("form[action='/interviews'] button[type=submit]")
        for _ in range(5):  # scheduling learns of a new contact from its stream: a moment, then send again
            if not page.locator("#contact_id-error").count():
                break
            page.wait_for_timeout(1000)
            visit.press("form[action='/interviews'] button[type=submit]")
        assert page.get_by_role("heading", name="Interview with Jane Doe").is_visible(), visit.text()
        visit.check("interview")

        # -- proposes times in the contact's zone (New York); each shows in London time and in theirs
        propose = "form[action$='/proposals'] button[type=submit]"
        visit.press(propose)  # no time given
        assert page.locator("#start-0-error").is_visible()
        visit.check("interview-propose-error")
        day = (datetime.now(UTC) + timedelta(days=2)).date()
        visit.enter("input#start-0", f"{day}T10:00")  # zone-0 is the contact's zone already
        visit.enter("input#start-1", f"{day}T16:00")
        visit.press(propose)
        new_york = datetime(day.year, day.month, day.day, 10, tzinfo=ZoneInfo("America/New_York"))
        slots = page.get_by_role("table").inner_text()
        assert wall(new_york, "Europe/London") in slots and wall(new_york, "America/New_York") in slots
        visit.check("interview-proposed")

        # -- schedules the first: the invite and the calendar feed are offered
        visit.press("button", f"Schedule this time: {page.locator('table th[scope=row] time').first.inner_text()}")
        assert "Scheduled" in visit.text() and page.get_by_role("link", name="Download the invite (.ics)").count()
        assert "webcal://" in page.get_by_role("link", name="Subscribe in your calendar app").get_attribute("href")
        assert wall(new_york, "Europe/London") in visit.text()
        visit.check("interview-scheduled")

        # -- reschedules to a moment from now (London time), then they talk: marked as held
        visit.enter("input#new-start", "")
        visit.press("form[action$='/reschedule'] button[type=submit]")
        assert page.locator("#new-start-error").is_visible()
        visit.check("interview-reschedule-error")
        london = ZoneInfo("Europe/London")
        for lead in (6, 15):  # seconds ahead; a slow machine gets a second try
            start = (datetime.now(UTC) + timedelta(seconds=lead)).astimezone(london)
            visit.enter("input#new-start", start.strftime("%Y-%m-%dT%H:%M:%S"))
            visit.choose("select#new-zone", "Europe/London")
            visit.press("form[action$='/reschedule'] button[type=submit]")
            if "Rescheduled" in visit.text():
                break
        assert "Earlier times" in visit.text(), visit.text()
        page.wait_for_timeout(max(0.0, (start - datetime.now(UTC)).total_seconds() + 0.5) * 1000)
        visit.press("button", "We talked: mark it as held")
        assert "Marked as held" in visit.text(), visit.text()
        visit.check("interview-held")

        # -- records a note with an insight and an action item, shared with the advisors
        visit.press("a", "Write a note about this interview")
        visit.check("note-new")
        visit.press("form[action='/notes'] button[type=submit]")  # an empty note
        assert page.locator("#text-error").is_visible()
        visit.check("note-error")
        visit.type_into("textarea#text", "She leads a product team of six.")
        visit.type_into("textarea#insight-career_paths", "Started in support, moved to product after two years")
        visit.type_into("input#item-0-text", "Send her my portfolio")
        visit.tab_to("input#objective-1")
        page.keyboard.press("Space")
        visit.tab_to("input#visibility-private")
        page.keyboard.press("ArrowDown")  # the radio group's next choice: shared
        assert page.locator("input#visibility-shared").is_checked()
        visit.press("form[action='/notes'] button[type=submit]")
        assert "Shared with your advisors" in visit.text() and "Send her my portfolio" in visit.text()
        visit.check("note")

        # -- the thank-you appears on the home page's queue (with the action item); done records it
        visit.press("nav a[href='/']")
        visit.reload_until(has_text("Send Jane Doe a thank-you for the conversation"))
        visit.reload_until(has_text("Action item: Send her my portfolio"))
        visit.check("home-thank-you")
        visit.press("button", "I sent a thank-you")
        assert "Recorded." in visit.text()
        visit.reload_until(f"!{has_text('Send Jane Doe a thank-you for the conversation')}")
        visit.check("home-thank-you-done")
        student = mint_token(web_platform.env["CAREERLOOP_JWT_SECRET"], "student-2", ["student"])
        contacts = requests.get(f"{web_platform.url('contacts')}/contacts", params={"q": "Jane"}, timeout=10,
                                headers={"Authorization": f"Bearer {student}"}).json()["items"]
        touchpoints = requests.get(f"{web_platform.url('contacts')}/contacts/{contacts[0]['id']}/touchpoints",
                                   headers={"Authorization": f"Bearer {student}"}, timeout=10).json()["items"]
        assert [t["kind"] for t in touchpoints].count("thank_you") == 1  # the contacts API recorded it
    finally:
        context.close()

    # -- the advisor signs in and reads the shared note (the notes API logs the read)
    context = browser.new_context(locale="en-GB")  # type: ignore[attr-defined]
    page = context.new_page()
    visit = Visit(page, base, artifacts_dir(), keyboard_only=False)
    try:
        demo_sign_in(page, base, "advisor-1", "advisor")
        assert page.url == f"{base}/advisor/students"
        visit.reload_until("!!document.querySelector('table a[href=\"/advisor/students/student-2\"]')")
        row = page.get_by_role("row").filter(has=page.get_by_role("link", name="student-2"))
        assert row.get_by_role("cell").nth(0).inner_text().isdigit()  # open follow-ups
        visit.check("advisor-students")
        with page.expect_navigation():
            page.get_by_role("link", name="student-2").click()
        visit.reload_until(has_text("Jane Doe"))
        assert "Action item: Send her my portfolio" in visit.text()  # from a shared note: its text shows
        visit.check("advisor-student")
        with page.expect_navigation():
            page.get_by_role("link", name="Jane Doe").click()
        assert "Started in support, moved to product after two years" in visit.text()
        visit.check("advisor-note")
        log = requests.get(f"{web_platform.url('notes')}/notes/access-log", timeout=10,
                           headers={"Authorization": f"Bearer {student}"}).json()["items"]
        assert [entry["advisor_id"] for entry in log] == ["advisor-1"]  # what the student can see
    finally:
        context.close()
