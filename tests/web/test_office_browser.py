"""The career office's pages in the real headless Chromium (as tests/web/test_browser.py drives it):
an admin signs in and goes through the funnel and engagement (the chart image loads from this origin
and the CSP refuses nothing), uploads a roster, assigns an advisor and edits a notification template
(and previews it), each form's error state included; axe-core finds no WCAG 2.0/2.1 A/AA violation on any of these
pages, and each is photographed under var/test-artifacts/web/."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.platform import Platform
from tests.web.conftest import artifacts_dir
from tests.web.test_browser import Visit, browser, demo_sign_in  # noqa: F401  (the module's browser fixture)

pytestmark = pytest.mark.browser

ROSTER = (b"student_id,program,college,degree_level,class_year\r\n"
          b"browser-s1,History,Arts and Sciences,undergraduate,2027\r\n"
          b"browser-s2,History,,undergraduate,2027\r\n")


def test_the_career_office_pages_by_an_admin_with_their_error_states(
        web_platform: Platform, browser: object, tmp_path: Path) -> None:  # noqa: F811
    base = web_platform.url("web")
    context = browser.new_context(locale="en-GB")  # type: ignore[attr-defined]
    page = context.new_page()
    visit = Visit(page, base, artifacts_dir(), keyboard_only=False)
    try:
        demo_sign_in(page, base, "admin-1", "admin")
        assert page.url == f"{base}/office/funnel"  # the office's staff land on the funnel

        # the funnel: the chart (an image from this origin, decoded by the browser) and its table
        page.locator("select#by").select_option("program")
        with page.expect_navigation():
            page.get_by_role("button", name="Show").click()
        chart = page.get_by_role("img", name="Bar chart of the funnel")
        assert chart.evaluate("image => image.complete && image.naturalWidth > 0")
        assert page.get_by_role("table").get_by_role("rowheader", name="All students").count() == 1
        visit.check("office-funnel")
        page.goto(f"{base}/office/funnel?term=autumn")
        assert page.locator("input#term").get_attribute("aria-describedby") == "term-hint term-error"
        visit.check("office-funnel-error")
        with page.expect_navigation():
            page.get_by_role("navigation", name="Career office").get_by_role("link", name="Engagement").click()
        assert page.get_by_role("img", name="Line chart of active students").evaluate("i => i.naturalWidth > 0")
        visit.check("office-engagement")
        page.goto(f"{base}/office/engagement?from=2026-09-01&to=2026-08-01")
        assert page.locator("#to-error").is_visible()
        visit.check("office-engagement-error")

        # the roster: no file (the error at the field), then a file with an invalid row
        with page.expect_navigation():
            page.get_by_role("link", name="Roster").click()
        visit.check("office-roster")
        with page.expect_navigation():
            page.get_by_role("button", name="Upload").click()
        assert page.locator("input#file").get_attribute("aria-describedby") == "file-hint file-error"
        visit.check("office-roster-error")
        roster = tmp_path / "roster.csv"
        roster.write_bytes(ROSTER)
        page.locator("input#file").set_input_files(str(roster))
        with page.expect_navigation():
            page.get_by_role("button", name="Upload").click()
        report = page.get_by_role("table", name="What became of each row of the roster")
        assert report.get_by_role("row").count() == 3 and "college: missing" in report.inner_text()
        visit.check("office-roster-report")

        # advisor assignments: an error from the notes API at its field, then an assignment
        with page.expect_navigation():
            page.get_by_role("link", name="Advisor assignments").click()
        page.locator("input#advisor_id").fill("a" * 129)
        page.locator("input#student_id").fill("browser-s1")
        with page.expect_navigation():
            page.get_by_role("button", name="Assign", exact=True).click()
        assert page.locator("#advisor_id-error").is_visible()
        visit.check("office-advisors-error")
        page.locator("input#advisor_id").fill("advisor-5")
        with page.expect_navigation():
            page.get_by_role("button", name="Assign", exact=True).click()
        assert page.get_by_role("button", name="Unassign advisor-5 from browser-s1").count() == 1
        visit.check("office-advisors")

        # notification templates: the list, a kind, an unknown placeholder refused at its field
        with page.expect_navigation():
            page.get_by_role("link", name="Notification templates").click()
        visit.check("office-templates")
        with page.expect_navigation():
            page.get_by_role("link", name="Digest").click()
        visit.check("office-template")
        page.locator("input#subject").fill("Your day {nope}")
        with page.expect_navigation():
            page.get_by_role("button", name="Save the templates").click()
        assert "unknown placeholder {nope}" in page.locator("#subject-error").inner_text()
        visit.check("office-template-error")
        with page.expect_navigation():  # the text as typed, previewed (as text), nothing saved
            page.get_by_role("button", name="Preview without saving").click()
        preview = page.get_by_role("region", name="Preview")
        assert "Your day {nope}" in preview.inner_text() and "[how many items]" not in preview.inner_text()
        page.locator("input#subject").fill("Your day: {count} items")
        with page.expect_navigation():
            page.get_by_role("button", name="Preview without saving").click()
        assert "Your day: [how many items] items" in preview.inner_text()
        visit.check("office-template-preview")
    finally:
        context.close()
