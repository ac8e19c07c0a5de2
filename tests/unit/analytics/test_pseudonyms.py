"""Pseudonyms: stable per key, different per identifier kind and per key, never the raw id."""
from __future__ import annotations

import re

import pytest

from services.analytics.pseudonyms import Pseudonymiser
from shared.config import Settings

KEY = "a-test-key-that-is-long-enough-for-hkdf"


def test_a_pseudonym_is_32_lowercase_hex_characters_and_stable() -> None:
    first, again = Pseudonymiser(KEY, "k1"), Pseudonymiser(KEY, "k1")
    assert re.fullmatch(r"[0-9a-f]{32}", first.student("student-1"))
    assert first.student("student-1") == again.student("student-1")
    assert first.student("student-1") != first.student("student-2")


def test_each_identifier_kind_has_its_own_key() -> None:
    pseudonyms = Pseudonymiser(KEY, "k1")
    assert len({pseudonyms.student("id-1"), pseudonyms.contact("id-1"), pseudonyms.interview("id-1")}) == 3


def test_a_rotated_key_gives_other_pseudonyms_under_its_own_id() -> None:
    old, new = Pseudonymiser(KEY, "k1"), Pseudonymiser(KEY + "-rotated", "k2")
    assert old.student("student-1") != new.student("student-1")
    assert (old.key_id, new.key_id) == ("k1", "k2")


def test_no_id_stays_none_and_an_empty_key_is_refused() -> None:
    assert Pseudonymiser(KEY, "k1").contact(None) is None
    with pytest.raises(ValueError, match="ANALYTICS_PSEUDONYM_KEY"):
        Pseudonymiser("", "k1")


def test_the_key_and_its_id_come_from_configuration() -> None:
    configured = Pseudonymiser.from_settings(Settings({"ANALYTICS_PSEUDONYM_KEY": KEY,
                                                       "ANALYTICS_PSEUDONYM_KEY_ID": "k9"}))
    assert configured.key_id == "k9" and configured.student("s") == Pseudonymiser(KEY, "k9").student("s")
    assert Pseudonymiser.from_settings(Settings({})).key_id == "k1"  # the embedded defaults
