"""Search terms without text indexes: folding, words, prefixes and queries."""
from __future__ import annotations

from services.notes import search


def test_words_are_case_and_accent_folded_and_split_on_anything_but_letters_and_digits() -> None:
    assert search.words("Société GÉNÉRALE's e-mail: Straße_42!") == [
        "societe", "generale", "mail", "strasse", "42"]


def test_single_letters_stop_words_and_overlong_tokens_are_not_indexed() -> None:
    assert search.words("I think the UX of a product is x " + "y" * 41) == ["think", "ux", "product"]


def test_a_note_is_found_by_its_words_and_their_beginnings() -> None:
    terms = search.index_terms(["Marketing analytics", "UX"])
    assert {"marketing", "mar", "mark", "marketi", "analytics", "ana", "ux"} <= set(terms)
    assert "ma" not in terms and "ux" in terms  # prefixes start at three letters
    assert terms == sorted(set(terms))


def test_prefixes_stop_at_the_maximum_length_so_a_long_word_stays_bounded() -> None:
    word = "internationalisation"
    terms = search.index_terms([word])
    assert len(terms) == 1 + (search.MAX_PREFIX - search.MIN_PREFIX + 1)
    assert word[:search.MAX_PREFIX] in terms and word[:search.MAX_PREFIX + 1] not in terms


def test_the_number_of_terms_per_note_is_capped() -> None:
    many = " ".join(f"w{n:05d}word" for n in range(3000))
    assert len(search.index_terms([many])) <= search.MAX_TERMS + search.MAX_PREFIX


def test_a_query_is_its_distinct_folded_words() -> None:
    assert search.query_terms("The  Café, the CAFE and marketing") == ["cafe", "marketing"]
    assert search.query_terms("the a I") == []


def test_keys_fold_case_accents_and_spacing_for_equality_filters() -> None:
    assert search.key("  Société   Générale ") == search.key("societe generale") == "societe generale"
    assert search.key(None) is None and search.key("   ") is None
