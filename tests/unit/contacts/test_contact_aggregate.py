"""The Contact aggregate as given events / when command / then events."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.contacts.domain import Contact, derive_stage, is_dormant
from shared.errors import RuleViolated
from shared.events import Recorded
from shared.identities import normalise_linkedin

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def given(*events: Recorded, contact_id: str = "c-1") -> Contact:
    return Contact.from_history(contact_id, events)


def added(**details: object) -> Recorded:
    return Recorded("ContactAdded", {"student_id": "s-1", "name": "Jane Doe", "emails": ["jane@example.com"],
                                     "tags": [], **details})


def touch(kind: str, when: str, touchpoint_id: str | None = None) -> Recorded:
    return Recorded("TouchpointLogged", {"touchpoint_id": touchpoint_id or f"t-{kind}-{when}", "kind": kind,
                                         "occurred_at": when})


def test_adding_a_contact_records_contact_added_with_only_the_given_details() -> None:
    contact = Contact.add("c-1", "s-1", {"name": "Jane", "emails": ["j@x.org"], "title": "", "phone": None},
                          tags=["alumni", "alumni"])
    assert contact.pending == [Recorded("ContactAdded", {"student_id": "s-1", "tags": ["alumni"], "import_id": None,
                                                         "name": "Jane", "emails": ["j@x.org"]})]
    assert (contact.version, contact.owner_id) == (1, "s-1")


def test_a_contact_needs_a_name() -> None:
    with pytest.raises(RuleViolated, match="needs a name"):
        Contact.add("c-1", "s-1", {"name": ""})


def test_changing_details_records_only_what_changed() -> None:
    contact = given(added(title="Engineer"))
    contact.change_details({"title": "Engineer", "organisation": "Acme", "phone": None})
    assert contact.pending == [Recorded("ContactDetailsChanged", {"organisation": "Acme"})]


def test_a_change_that_changes_nothing_records_nothing() -> None:
    contact = given(added(title="Engineer"))
    contact.change_details({"title": "Engineer"})
    assert contact.pending == []


def test_clearing_a_detail_records_null() -> None:
    contact = given(added(title="Engineer"))
    contact.change_details({"title": None})
    assert contact.pending == [Recorded("ContactDetailsChanged", {"title": None})]
    assert "title" not in contact.details


def test_tagging_twice_records_once() -> None:
    contact = given(added(), Recorded("ContactTagged", {"tags": ["alumni"]}))
    contact.tag(["alumni", "finance"])
    assert contact.pending == [Recorded("ContactTagged", {"tags": ["finance"]})]
    contact.untag(["nope", "alumni"])
    assert contact.pending[-1] == Recorded("ContactUntagged", {"tags": ["alumni"]})
    assert contact.tags == ["finance"]


def test_an_archived_contact_can_be_restored_but_not_archived_again() -> None:
    contact = given(added(), Recorded("ContactArchived", {"reason": None}))
    with pytest.raises(RuleViolated, match="already archived"):
        contact.archive()
    contact.restore()
    assert contact.status == "active"
    with pytest.raises(RuleViolated, match="only an archived"):
        contact.restore()


def test_a_touchpoint_in_the_future_is_refused() -> None:
    contact = given(added())
    with pytest.raises(RuleViolated, match="future"):
        contact.log_touchpoint("t-1", "outreach", NOW + timedelta(hours=1), NOW)


def test_logging_the_same_touchpoint_twice_records_it_once() -> None:
    contact = given(added())
    contact.log_touchpoint("t-1", "outreach", NOW, NOW)
    contact.log_touchpoint("t-1", "outreach", NOW, NOW)
    assert [e.name for e in contact.pending] == ["TouchpointLogged"]


@pytest.mark.parametrize(("kinds", "stage"), [
    ([], "target"),
    (["outreach"], "contacted"),
    (["outreach", "reply"], "replied"),
    (["outreach", "reply", "conversation"], "interviewed"),
    (["outreach", "reply", "conversation", "thank_you"], "following_up"),
    (["outreach", "reply", "conversation", "thank_you", "check_in"], "ongoing"),
    (["conversation", "article"], "ongoing"),
    (["intro"], "contacted"),
])
def test_the_stage_is_derived_from_what_happened(kinds: list[str], stage: str) -> None:
    touchpoints = [{"touchpoint_id": str(i), "kind": k, "occurred_at": f"2026-01-{i + 1:02d}T00:00:00Z"}
                   for i, k in enumerate(kinds)]
    assert derive_stage(touchpoints) == stage


def test_the_stage_follows_when_things_happened_not_when_they_were_logged() -> None:
    late_logged_outreach = {"touchpoint_id": "a", "kind": "outreach", "occurred_at": "2026-01-01T00:00:00Z"}
    reply = {"touchpoint_id": "b", "kind": "reply", "occurred_at": "2026-01-05T00:00:00Z"}
    assert derive_stage([reply, late_logged_outreach]) == "replied"


def test_a_relationship_without_touches_for_long_is_dormant_but_a_target_never_is() -> None:
    assert is_dormant("ongoing", "2026-01-01T00:00:00.000000Z", NOW, 90)
    assert not is_dormant("ongoing", "2026-11-01T00:00:00.000000Z", NOW, 90)
    assert not is_dormant("target", None, NOW, 90)


def test_merging_brings_the_duplicates_emails_missing_details_tags_and_history() -> None:
    survivor = given(added(), touch("outreach", "2026-01-01T00:00:00Z", "t-a"))
    duplicate = given(added(emails=["jd@work.example"], title="CTO", name="J. Doe"),
                      Recorded("ContactTagged", {"tags": ["alumni"]}),
                      touch("reply", "2026-01-02T00:00:00Z", "t-b"), contact_id="c-2")
    survivor.merge(duplicate)
    assert survivor.details["emails"] == ["jane@example.com", "jd@work.example"]
    assert survivor.details["title"] == "CTO" and survivor.details["name"] == "Jane Doe"
    assert survivor.tags == ["alumni"]
    assert survivor.stage == "replied"
    assert duplicate.pending == [Recorded("ContactAbsorbed", {"into_contact_id": "c-1"})]
    assert duplicate.status == "merged"


def test_a_merged_contact_refuses_further_commands() -> None:
    contact = given(added(), Recorded("ContactAbsorbed", {"into_contact_id": "c-9"}))
    with pytest.raises(RuleViolated, match="merged into c-9"):
        contact.tag(["x"])


def test_contacts_of_different_students_cannot_be_merged() -> None:
    mine, theirs = given(added()), given(added(student_id="s-2"), contact_id="c-2")
    with pytest.raises(RuleViolated, match="same student"):
        mine.merge(theirs)


def test_a_retried_merge_only_completes_the_absorption() -> None:
    survivor = given(added(), Recorded("ContactsMerged", {"merged_contact_id": "c-2", "emails": [], "filled": {},
                                                          "tags": [], "touchpoints": []}))
    duplicate = given(added(), contact_id="c-2")
    survivor.merge(duplicate)
    assert survivor.pending == []
    assert [e.name for e in duplicate.pending] == ["ContactAbsorbed"]


@pytest.mark.parametrize(("url", "normal"), [
    ("https://www.linkedin.com/in/Jane-Doe/", "linkedin.com/in/jane-doe"),
    ("linkedin.com/in/jane-doe?trk=x", "linkedin.com/in/jane-doe"),
    ("http://uk.linkedin.com/in/jane-doe", "linkedin.com/in/jane-doe"),
    ("https://www.linkedin.com/company/acme", None),
    ("https://example.com/in/jane", None),
    ("https://notlinkedin.com.example/in/jane", None),
    ("www.LinkedIn.com./pub/Jane-Doe/1/2/3", "linkedin.com/pub/jane-doe"),
    ("https://[linkedin.com/in/jane", None),  # urlsplit refuses it: not a profile, never an exception
    ("http://linkedin.com:notaport/in/jane", None),
])
def test_linkedin_profile_urls_are_compared_in_one_normal_form(url: str, normal: str | None) -> None:
    assert normalise_linkedin(url) == normal
