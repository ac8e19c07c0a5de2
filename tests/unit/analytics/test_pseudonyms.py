"""Pseudonyms: stable per key, different per identifier kind and per key, never the raw id."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.analytics.pseudonyms import Pseudonymiser
from shared.config import Settings
from shared.keys import open_key_store
from shared.keys.personal import PersonalData, contact_subject, student_subject
from shared.keys.vault import DataKeys, MasterKey, SubjectErased

KEY = "a-test-key-that-is-long-enough-for-hkdf"


def test_a_pseudonym_is_32_lowercase_hex_characters_and_stable() -> None:
    first, again = Pseudonymiser(KEY, "k1"), Pseudonymiser(KEY, "k1")
    assert re.fullmatch(r"[0-9a-f]{32}", first.student("student-1"))
    assert first.student("student-1") == again.student("student-1")
    assert first.student("student-1") != first.student("student-2")


def test_each_identifier_kind_has_its_own_key() -> None:
    pseudonyms = Pseudonymiser(KEY, "k1")
    assert len({pseudonyms.student("id-1"), pseudonyms.contact("id-1", "id-1"), pseudonyms.interview("id-1", "id-1"),
                pseudonyms.event_token("id-1", "id-1")}) == 4


def test_a_rotated_key_gives_other_pseudonyms_under_its_own_id() -> None:
    old, new = Pseudonymiser(KEY, "k1"), Pseudonymiser(KEY + "-rotated", "k2")
    assert old.student("student-1") != new.student("student-1")
    assert (old.key_id, new.key_id) == ("k1", "k2")


def test_no_id_stays_none_and_an_empty_key_is_refused() -> None:
    assert Pseudonymiser(KEY, "k1").contact(None, "s-1") is None
    with pytest.raises(ValueError, match="ANALYTICS_PSEUDONYM_KEY"):
        Pseudonymiser("", "k1")


def test_the_key_and_its_id_come_from_configuration() -> None:
    configured = Pseudonymiser.from_settings(Settings({"ANALYTICS_PSEUDONYM_KEY": KEY,
                                                       "ANALYTICS_PSEUDONYM_KEY_ID": "k9"}))
    assert configured.key_id == "k9" and configured.student("s") == Pseudonymiser(KEY, "k9").student("s")
    assert Pseudonymiser.from_settings(Settings({})).key_id == "k1"  # the embedded defaults


def test_salted_by_the_subjects_data_key_an_erasure_unlinks_them_for_good(tmp_path: Path) -> None:
    """With the key store's salts, whoever holds the analytics secret and the raw ids still cannot
    compute an erased student's (or professional's) pseudonyms, or their events' ids."""
    personal = PersonalData(DataKeys(open_key_store(f"sqlite:///{tmp_path}/keys.db"), MasterKey.generate("m1")))
    salted, unsalted = Pseudonymiser(KEY, "k1", personal.pseudonym_salt), Pseudonymiser(KEY, "k1")
    before = (salted.student("s-1"), salted.contact("c-1", "s-1"), salted.interview("i-1", "s-1"),
              salted.event_token("e-1", "s-1"))
    assert salted.student("s-1") != unsalted.student("s-1")  # the secret alone does not give them
    assert Pseudonymiser(KEY, "k1", personal.pseudonym_salt).student("s-1") == before[0]  # stable while kept
    kept = salted.student("s-2")

    personal.keys.shred(contact_subject("s-1", "c-1"))  # the professional: their pseudonym is gone
    salted.forget()
    assert salted.contact("c-1", "s-1") is None and salted.student("s-1") == before[0]
    personal.keys.shred_all(student_subject("s-1"))
    salted.forget()
    fresh = Pseudonymiser(KEY, "k1", personal.pseudonym_salt)
    for pseudonymiser in (salted, fresh):
        with pytest.raises(SubjectErased):
            pseudonymiser.student("s-1")
        with pytest.raises(SubjectErased):
            pseudonymiser.event_token("e-1", "s-1")
    assert fresh.student("s-2") == kept  # everyone else's are unchanged
