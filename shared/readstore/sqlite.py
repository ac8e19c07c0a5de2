"""SQLite read-model store: one table of JSON documents per physical collection (`rm_<physical>`),
expression indexes on the declared fields. synchronous=NORMAL: a read model can always be rebuilt from
the event streams.

Generations (see `shared.readstore`): the alias document is one row of `read_model_generations`,
changed by compare-and-set on its revision inside one write transaction. A following handle resolves
its table on each operation and creates it (with its indexes) the first time this process meets it.
"""
from __future__ import annotations

import json
import os
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from shared.readstore.port import (
    ALIAS_CACHE_SECONDS,
    APPLIED,
    DUPLICATE,
    AliasCache,
    Delete,
    Generations,
    Index,
    Outcome,
    Page,
    Update,
    VersionGap,
    Write,
    check_logical_name,
    decode_cursor,
    encode_cursor,
    fold,
    physical_name,
    saved,
    sort_key,
)
from shared.sqlite import SQLiteDatabase, path_from_url

_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_COMPARISONS = {"$gte": ">=", "$gt": ">", "$lte": "<=", "$lt": "<", "$ne": "IS NOT"}
_ALIASES = "read_model_generations"
_ALIAS_ID = "generations"
_IN_CHUNK = 500  # ids per `IN (...)`: well under SQLite's bound on a statement's parameters


class SQLiteReadStore:
    def __init__(self, url: str) -> None:
        self.db = SQLiteDatabase(path_from_url(url), synchronous="NORMAL")
        self.aliases = AliasCache(self.load_generations)
        self._ensured: set[tuple[str, tuple[tuple[str, bool], ...]]] = set()
        self._ensured_pid = os.getpid()

    def collection(self, name: str, indexes: Sequence[Index] = (), *,
                   generation: int | None = None) -> SQLiteCollection:
        return SQLiteCollection(self, name, indexes, generation)

    def table(self, name: str, generation: int | None, indexes: Sequence[Index]) -> str:
        """The table of `name` in `generation` (None: the current one), created if this process has
        not met it yet."""
        physical = physical_name(name, self.aliases.get().of(name) if generation is None else generation)
        key = (physical, tuple(sorted((ix.field, ix.array) for ix in indexes)))
        if self._ensured_pid != os.getpid():  # a forked child checks for itself
            self._ensured, self._ensured_pid = set(), os.getpid()
        if key not in self._ensured:
            table = f"rm_{physical}"
            with self.db.write() as conn:
                conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (id TEXT PRIMARY KEY, doc TEXT NOT NULL)")
                for ix in indexes:
                    if not ix.array:
                        conn.execute(f"CREATE INDEX IF NOT EXISTS {table}_{ix.field}"
                                     f" ON {table} (json_extract(doc, '$.{ix.field}'))")
            self._ensured.add(key)
        return f"rm_{physical}"

    @contextmanager
    def batch(self) -> Iterator[None]:
        """One transaction for a whole poll's writes: far fewer fsyncs, and all-or-nothing."""
        with self.db.write():
            yield

    def drop(self, name: str, *, generation: int | None = None) -> None:
        check_logical_name(name)
        physical = physical_name(name, self.load_generations().of(name) if generation is None else generation)
        with self.db.write() as conn:
            conn.execute(f"DROP TABLE IF EXISTS rm_{physical}")
        self._ensured = {key for key in self._ensured if key[0] != physical}

    # -- generations ------------------------------------------------------------------------
    def generations(self, max_age: float = ALIAS_CACHE_SECONDS) -> Generations:
        return self.aliases.get(max_age)

    def load_generations(self) -> Generations:
        try:
            row = self.db.execute(f"SELECT doc FROM {_ALIASES} WHERE id = ?", (_ALIAS_ID,)).fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # nothing was ever rebuilt: everything is generation 0
                return Generations()
            raise
        return Generations.from_doc(None if row is None else json.loads(row[0]))

    def save_generations(self, new: Generations, expected_revision: int) -> bool:
        stored = saved(new, expected_revision)
        with self.db.write() as conn:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {_ALIASES} (id TEXT PRIMARY KEY, doc TEXT NOT NULL)")
            row = conn.execute(f"SELECT doc FROM {_ALIASES} WHERE id = ?", (_ALIAS_ID,)).fetchone()
            if Generations.from_doc(None if row is None else json.loads(row[0])).revision != expected_revision:
                return False
            conn.execute(f"INSERT INTO {_ALIASES} (id, doc) VALUES (?, ?)"
                         " ON CONFLICT (id) DO UPDATE SET doc = excluded.doc", (_ALIAS_ID, json.dumps(stored.to_doc())))
        self.aliases.remember(stored)
        return True

    def prepare(self) -> None:
        """Nothing to do: a collection's table and indexes are created when it is declared."""

    def ping(self) -> None:
        self.db.execute("SELECT 1").fetchone()

    def close(self) -> None:
        self.db.close()


class SQLiteCollection:
    def __init__(self, store: SQLiteReadStore, name: str, indexes: Sequence[Index], generation: int | None) -> None:
        check_logical_name(name)
        for ix in indexes:
            if not _FIELD.match(ix.field):
                raise ValueError(f"bad field name {ix.field!r}")
        self.store, self.db, self.name, self.generation = store, store.db, name, generation
        self.declared = tuple(indexes)
        self.indexes = {"_id": Index("_id"), **{ix.field: ix for ix in indexes}}
        self._table()  # declaring a collection creates its table and indexes, as it always did

    def _table(self) -> str:
        """The table this operation uses: resolved once per operation, never in the middle of one."""
        return self.store.table(self.name, self.generation, self.declared)

    # -- writes -----------------------------------------------------------------------------
    def get(self, doc_id: str) -> dict[str, Any] | None:
        return self._get(self._table(), doc_id)

    def _get(self, table: str, doc_id: str) -> dict[str, Any] | None:
        row = self.db.execute(f"SELECT doc FROM {table} WHERE id = ?", (doc_id,)).fetchone()
        return None if row is None else {"_id": doc_id, **json.loads(row[0])}

    def known(self, docs: Mapping[str, dict[str, Any] | None]) -> None:
        """Nothing to remember outside a unit of work (`shared.readstore.buffer`)."""

    def add_if_absent(self, doc_id: str, doc: Mapping[str, Any]) -> None:
        self.insert_if_absent(doc_id, doc)

    def get_many(self, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        return self._get_many(self._table(), doc_ids)

    def _get_many(self, table: str, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        ids = list(dict.fromkeys(doc_ids))
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = ids[start:start + _IN_CHUNK]
            rows = self.db.execute(f"SELECT id, doc FROM {table} WHERE id IN ({','.join('?' * len(chunk))})",
                                   chunk).fetchall()
            found.update((row[0], {"_id": row[0], **json.loads(row[1])}) for row in rows)
        return found

    def bulk(self, writes: Sequence[Write]) -> list[Outcome]:
        """In one transaction: one read of every document the writes touch, the writes folded in memory
        (`fold`, the reference), then one statement per kind for the documents they changed. A gap
        raises before anything is written."""
        table = self._table()
        with self.db.write() as conn:
            before = self._get_many(table, [w.doc_id for w in writes])
            state: dict[str, dict[str, Any] | None] = {i: before.get(i) for i in {w.doc_id for w in writes}}
            changed: set[str] = set()
            outcomes: list[Outcome] = []
            for write in writes:
                outcome, doc = fold(self.name, write, state[write.doc_id])
                if doc is not state[write.doc_id] or isinstance(write, Delete):
                    state[write.doc_id] = doc
                    changed.add(write.doc_id)
                outcomes.append(outcome)
            gone = [(i,) for i in sorted(changed) if state[i] is None]
            kept = [(i, json.dumps({k: v for k, v in doc.items() if k != "_id"}))
                    for i in sorted(changed) if (doc := state[i]) is not None]
            if gone:
                conn.executemany(f"DELETE FROM {table} WHERE id = ?", gone)
            if kept:
                conn.executemany(f"INSERT INTO {table} (id, doc) VALUES (?, ?)"
                                 " ON CONFLICT (id) DO UPDATE SET doc = excluded.doc", kept)
            return outcomes

    def apply(self, doc_id: str, version: int, update: Update) -> str:
        table = self._table()
        with self.db.write():
            current = self._get(table, doc_id)
            last = current.get("_version", 0) if current else 0
            if version <= last:
                return DUPLICATE
            if version != last + 1:
                raise VersionGap(self.name, doc_id, last, version)
            doc = update.apply_to(current or {}, inserting=current is None)
            doc["_version"] = version
            self._write(table, doc_id, doc)
            return APPLIED

    def upsert(self, doc_id: str, update: Update) -> None:
        table = self._table()
        with self.db.write():
            current = self._get(table, doc_id)
            self._write(table, doc_id, update.apply_to(current or {}, inserting=current is None))

    def insert_if_absent(self, doc_id: str, doc: Mapping[str, Any]) -> bool:
        table = self._table()
        body = json.dumps({k: v for k, v in doc.items() if k != "_id"})
        with self.db.write() as conn:
            cursor = conn.execute(f"INSERT OR IGNORE INTO {table} (id, doc) VALUES (?, ?)", (doc_id, body))
            return cursor.rowcount == 1

    def delete(self, doc_id: str) -> None:
        table = self._table()
        with self.db.write() as conn:
            conn.execute(f"DELETE FROM {table} WHERE id = ?", (doc_id,))

    def _write(self, table: str, doc_id: str, doc: dict[str, Any]) -> None:
        body = json.dumps({k: v for k, v in doc.items() if k != "_id"})
        self.db.conn.execute(
            f"INSERT INTO {table} (id, doc) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc",
            (doc_id, body),
        )

    # -- queries ----------------------------------------------------------------------------
    def _column(self, name: str) -> str:
        if name not in self.indexes:
            raise ValueError(f"{self.name}: {name!r} is not an indexed field")
        return "id" if name == "_id" else f"json_extract(doc, '$.{name}')"

    def _where(self, filter: Mapping[str, Any]) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for name, condition in filter.items():
            column = self._column(name)
            is_array = self.indexes[name].array
            ops = condition if isinstance(condition, dict) else {"$eq": condition}
            for op, value in ops.items():
                if is_array and op not in ("$eq", "$in", "$all"):
                    raise ValueError(f"{self.name}: array field {name!r} supports only equality, $in and $all")
                if is_array and op == "$all":
                    for item in value:  # every value must be an element
                        clauses.append(f"EXISTS (SELECT 1 FROM json_each(doc, '$.{name}') WHERE value = ?)")
                        params.append(item)
                elif is_array:
                    values = value if op == "$in" else [value]
                    marks = ",".join("?" * len(values)) or "NULL"
                    clauses.append(f"EXISTS (SELECT 1 FROM json_each(doc, '$.{name}') WHERE value IN ({marks}))")
                    params += values
                elif op == "$eq":
                    clauses.append(f"{column} IS ?")
                    params.append(value)
                elif op == "$in":
                    clauses.append(f"{column} IN ({','.join('?' * len(value)) or 'NULL'})")
                    params += list(value)
                elif op == "$contains":
                    clauses.append(f"instr(casefold({column}), ?) > 0")
                    params.append(str(value).casefold())
                elif op in _COMPARISONS:
                    clauses.append(f"{column} {_COMPARISONS[op]} ?")
                    params.append(value)
                else:
                    raise ValueError(f"unsupported operator {op!r}")
        return clauses, params

    def find(self, filter: Mapping[str, Any], sort: Sequence[tuple[str, int]] = (), limit: int = 50,
             cursor: str | None = None) -> Page:
        keys = sort_key(sort)
        clauses, params = self._where(filter)
        if cursor:
            after = decode_cursor(cursor, len(keys))
            alternatives = []
            for i, (name, direction) in enumerate(keys):
                parts = [f"{self._column(n)} = ?" for n, _ in keys[:i]]
                parts.append(f"{self._column(name)} {'>' if direction > 0 else '<'} ?")
                alternatives.append("(" + " AND ".join(parts) + ")")
                params += after[: i + 1]
            clauses.append("(" + " OR ".join(alternatives) + ")")
        order = ", ".join(f"{self._column(n)} {'ASC' if d > 0 else 'DESC'}" for n, d in keys)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self.db.execute(
            f"SELECT id, doc FROM {self._table()} {where} ORDER BY {order} LIMIT ?", (*params, limit + 1)
        ).fetchall()
        items = [{"_id": row[0], **json.loads(row[1])} for row in rows[:limit]]
        next_cursor = None
        if len(rows) > limit and items:
            next_cursor = encode_cursor([items[-1].get(name) for name, _ in keys])
        return Page(items, next_cursor)

    def count(self, filter: Mapping[str, Any]) -> int:
        clauses, params = self._where(filter)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return self.db.execute(f"SELECT COUNT(*) FROM {self._table()} {where}", params).fetchone()[0]
