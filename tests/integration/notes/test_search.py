"""Searching a student's notes, on each backend profile: words on both backends without text indexes,
and the filters by tag, category, contact, organisation and industry."""
from __future__ import annotations

import threading
from collections.abc import Callable

from tests.integration.notes.conftest import Services


def texts(items: list[dict]) -> list[str]:
    return [item["text"] for item in items]


def test_words_tags_categories_contacts_organisations_and_industries_find_notes(
        services: Services, token: Callable) -> None:
    # given notes about two contacts in different organisations and industries
    auth = token("student-1")
    jane = services.add_contact(auth, name="Jane Doe", organisation="Société Générale", industry="Banking",
                                emails=["jane@example.org"])
    omar = services.add_contact(auth, name="Omar Ali", organisation="Acme Corp", industry="Software",
                                emails=["omar@example.org"])
    services.record(auth, contact_id=jane, text="Risk teams hire quantitative analysts.", tags=["finance"],
                    insights=[{"category": "career_paths", "text": "Start in operations, move to risk"}])
    services.record(auth, contact_id=omar, text="Product managers own the roadmap.", tags=["Product"],
                    insights=[{"category": "organisation_culture", "text": "Flat, fast, remote-first café culture"}])
    services.record(auth, contact_id=omar, text="Marketing analytics is growing fast.",
                    action_items=[{"text": "Email the hiring manager about analytics roles"}])
    # then
    assert texts(services.search(auth, "q=analytics")) == ["Marketing analytics is growing fast."]
    assert texts(services.search(auth, "q=analy")) == ["Marketing analytics is growing fast.",
                                                         "Risk teams hire quantitative analysts."]
    assert texts(services.search(auth, "q=fast+growing")) == ["Marketing analytics is growing fast."]
    assert texts(services.search(auth, "q=fast+roadmap")) == ["Product managers own the roadmap."]
    assert texts(services.search(auth, "q=fast+roadmap+risk")) == []  # every word must occur
    assert texts(services.search(auth, "q=CAFE")) == ["Product managers own the roadmap."]  # accents, case
    assert texts(services.search(auth, "q=hiring+manager")) == ["Marketing analytics is growing fast."]
    assert texts(services.search(auth, "tag=product")) == ["Product managers own the roadmap."]
    assert texts(services.search(auth, "category=career_paths")) == ["Risk teams hire quantitative analysts."]
    assert len(services.search(auth, f"contact_id={omar}")) == 2
    assert texts(services.search(auth, "organisation=societe+generale")) == ["Risk teams hire quantitative analysts."]
    assert len(services.search(auth, "industry=SOFTWARE")) == 2
    assert texts(services.search(auth, "industry=software&q=roadmap")) == ["Product managers own the roadmap."]
    assert texts(services.search(auth, "open_actions=true")) == ["Marketing analytics is growing fast."]
    # and each result says who it is about
    [found] = services.search(auth, "q=roadmap")
    assert (found["contact_name"], found["organisation"], found["industry"]) == ("Omar Ali", "Acme Corp", "Software")
    assert "words" not in found
    # another student's search finds none of it
    assert services.search(token("student-2"), "q=analytics") == []


def test_a_query_of_only_common_words_is_refused_naming_q(services: Services, token: Callable) -> None:
    response = services.notes.client.get("/notes?q=the+a", headers={"Authorization": token("student-1")})
    assert response.status_code == 422 and "q" in response.json["fields"]


def test_search_follows_the_contacts_later_changes(services: Services, token: Callable) -> None:
    auth = token("student-1")
    contact = services.add_contact(auth, organisation="Acme Corp")
    services.record(auth, contact_id=contact, text="Notes on Acme")
    services.contacts.client.patch(f"/contacts/{contact}", json={"organisation": "Globex", "industry": "Energy"},
                                   headers={"Authorization": auth})
    assert services.search(auth, "organisation=acme+corp") == []
    [found] = services.search(auth, "organisation=globex&industry=energy")
    assert found["organisation"] == "Globex"


def test_pages_visit_every_note_once_newest_first(services: Services, token: Callable) -> None:
    auth = token("student-1")
    contact = services.add_contact(auth)
    for n in range(5):
        services.record(auth, contact_id=contact, text=f"Meeting number {n} about careers")
    services.sync()
    seen, cursor = [], ""
    while True:
        response = services.notes.client.get(f"/notes?q=careers&limit=2{cursor}", headers={"Authorization": auth})
        seen += texts(response.json["items"])
        if not response.json["next_cursor"]:
            break
        cursor = f"&cursor={response.json['next_cursor']}"
    assert seen == [f"Meeting number {n} about careers" for n in reversed(range(5))]


def test_a_query_naming_a_version_waits_for_it(services: Services, token: Callable) -> None:
    auth = token("student-1")
    # the query may wait as long as the projection needs (on a busy machine, seconds): what is tested
    # is that it waits and then answers, not how fast the real backends project
    services.notes.client.application.extensions["careerloop"].settings.env["READ_YOUR_WRITES_WAIT_SECONDS"] = "60"
    contact = services.add_contact(auth)
    created = services.record(auth, contact_id=contact, text="Fresh insight").json
    syncing = threading.Timer(0.3, services.sync)
    syncing.start()
    try:
        response = services.notes.client.get(f"/notes?q=fresh&min_version={created['id']}:{created['version']}",
                                             headers={"Authorization": auth})
    finally:
        syncing.join()
    assert response.status_code == 200 and texts(response.json["items"]) == ["Fresh insight"]
