"""Word search that every read-store backend can answer: no text index needed.

MongoDB-wire servers such as FerretDB v1 have no text indexes, and SQLite's FTS would be a second,
SQLite-only search. So the projection turns each note into a list of *terms* stored in an
array-indexed field (`words`), and a query asks for documents whose `words` contain every term of
the query (`$all`): an index-backed equality lookup on both backends, and a multi-word query must
match all its words.

Words are folded the same way on both sides: case-folded (ß → ss), accents stripped (é → e, via
NFKD), split on anything that is not a letter or digit, 1-letter tokens and a few English stop
words dropped. Each word of 4+ letters is also stored by its prefixes of 3 to `MAX_PREFIX` letters,
so "market" finds "marketing" (search as you type) while the list stays bounded: at most
`MAX_PREFIX - 2` extra terms per distinct word, at most `MAX_TERMS` terms per note.

Known limits: a query word longer than `MAX_PREFIX` letters matches only a whole word; scripts
written without spaces (Chinese, Japanese) are indexed as runs of characters, so only a run's start
is findable; there is no stemming or ranking (newest notes first).
"""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

MIN_WORD, MAX_WORD = 2, 40          # longer "words" are URLs, hashes and the like: not searched for
MIN_PREFIX, MAX_PREFIX = 3, 12
MAX_TERMS = 6000
MAX_QUERY_WORDS = 10
STOP_WORDS = frozenset([
    "a", "an", "and", "are", "as", "at", "be", "been", "but", "by", "can", "could", "did", "do", "does", "for",
    "from", "had", "has", "have", "he", "her", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "me",
    "my", "no", "not", "of", "on", "or", "our", "she", "so", "than", "that", "the", "their", "them", "then", "there",
    "these", "they", "this", "those", "to", "too", "us", "was", "we", "were", "what", "when", "where", "which", "who",
    "why", "will", "with", "would", "you", "your",
])
_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Case-folded, accents stripped: "Société Générale" and "societe generale" fold alike."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def key(text: str | None) -> str | None:
    """A folded, whitespace-normalised copy for case- and accent-insensitive equality filters."""
    if not text:
        return None
    return " ".join(fold(text).split()) or None


def words(text: str) -> list[str]:
    """The searchable words of `text`, in order, duplicates kept."""
    return [w for w in _WORD.findall(fold(text)) if MIN_WORD <= len(w) <= MAX_WORD and w not in STOP_WORDS]


def index_terms(texts: Iterable[str]) -> list[str]:
    """Every term a note is found by: its words and their prefixes, sorted (stable documents)."""
    distinct = dict.fromkeys(w for text in texts for w in words(text))
    terms: set[str] = set()
    for word in distinct:
        terms.add(word)
        terms.update(word[:n] for n in range(MIN_PREFIX, min(len(word), MAX_PREFIX + 1)))
        if len(terms) >= MAX_TERMS:  # a note that long is still found by its first few thousand words
            break
    return sorted(terms)


def query_terms(query: str) -> list[str]:
    """The distinct words of a query; a note matches when it has every one (as a word or a prefix)."""
    return list(dict.fromkeys(words(query)))
