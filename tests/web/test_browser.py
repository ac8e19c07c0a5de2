"""The web front end in a real headless Chromium (Debian's, from infra/chromium/install.sh), driven by
Playwright for Python: a student signs in on the local page and imports a LinkedIn file with the
keyboard only, then finds the contacts in the directory and opens one. axe-core (infra/axe/install.sh)
checks every page visited, the error state included, against WCAG 2.0/2.1 A and AA; a screenshot of
each page is kept under var/test-artifacts/web/; the Content-Security-Policy must refuse nothing."""
from __future__ import annotations

import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

from tests.platform import ROOT, Platform
from tests.web.conftest import LINKEDIN, artifacts_dir

pytestmark = pytest.mark.browser
playwright_sync = pytest.importorskip("playwright.sync_api")

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


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

    def __init__(self, page: object, base: str, shots: Path) -> None:
        self.page, self.base, self.shots = page, base, shots
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

    def tab_to(self, selector: str, text: str | None = None, limit: int = 40) -> None:
        """Press Tab until the element `selector` (with `text`, when given) has the focus (keyboard only)."""
        page = self.page
        for _ in range(limit):
            page.keyboard.press("Tab")  # type: ignore[attr-defined]
            if page.evaluate("([s, t]) => document.activeElement.matches(s) && "  # type: ignore[attr-defined]
                             "(t === null || document.activeElement.textContent.trim() === t)", [selector, text]):
                return
        raise AssertionError(f"{selector} cannot be reached with the Tab key")


def test_a_student_signs_in_imports_linkedin_and_opens_a_contact_keyboard_only(
        web_platform: Platform, browser: object, tmp_path: Path) -> None:
    base = web_platform.url("web")
    context = browser.new_context(locale="en-GB", has_touch=False)  # type: ignore[attr-defined]
    page = context.new_page()
    visit = Visit(page, base, artifacts_dir())
    try:
        # the sign-in page, reached by following the home page's redirect
        page.goto(f"{base}/")
        assert page.url.startswith(f"{base}/sign-in")
        visit.check("sign-in")
        # keyboard only: the skip link comes first, then the demo form's controls
        visit.tab_to("a.skip-link")
        visit.tab_to("select#user")
        page.keyboard.press("ArrowDown")  # Student Two: a student of this test alone
        visit.tab_to("select#role")
        visit.tab_to("form[action='/sign-in/demo'] button[type=submit]")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url == f"{base}/"
        assert page.get_by_text("Signed in as Student Two").is_visible()
        visit.check("home")

        # to the import page through the main navigation, by keyboard
        visit.tab_to("nav a[href='/imports/new']")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        visit.check("import")
        # a file that is not a contacts file: the error is shown next to the field, and checked too
        bad = tmp_path / "notes.txt"
        bad.write_text("this is not a contacts file\n")
        visit.tab_to("input#file")
        page.locator("input#file").set_input_files(str(bad))  # what the file dialog does; no mouse event
        visit.tab_to("form[action='/imports'] button[type=submit]")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.locator("#file-error").is_visible()
        assert page.locator("input#file").get_attribute("aria-describedby") == "file-hint file-error"
        assert page.get_by_role("alert").get_by_role("link", name="File:").count() == 1
        visit.check("import-error")

        good = tmp_path / "Connections.csv"
        good.write_bytes(LINKEDIN)
        visit.tab_to("input#file")
        page.locator("input#file").set_input_files(str(good))
        visit.tab_to("form[action='/imports'] button[type=submit]")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.get_by_role("heading", name="Import report").is_visible()
        assert page.get_by_role("table", name="What became of each record").get_by_role("row").count() == 4
        visit.check("import-report")

        # the directory lists the imported contacts (its read model follows within a moment)
        page.goto(f"{base}/contacts")
        for _ in range(50):
            if page.get_by_role("link", name="Jane Doe").count():
                break
            page.wait_for_timeout(200)
            page.reload()
        table = page.get_by_role("table")
        assert table.get_by_role("columnheader", name="Name").count() == 1
        assert table.get_by_role("link", name="Jane Doe").count() == 1
        assert table.get_by_role("link", name="Sam Lee").count() == 1
        visit.check("contacts")

        visit.tab_to("table a", "Jane Doe", limit=60)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.get_by_role("heading", name="Jane Doe", level=1).is_visible()
        assert page.get_by_text("Engineer at Acme, Inc.").is_visible()
        visit.check("contact")
    finally:
        context.close()
