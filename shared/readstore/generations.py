"""Generations of read models: reserve one, build it beside the live one, switch over, drop the old.

Every change of the alias document (`shared.readstore.Generations`) is a compare-and-set on its
revision, retried when another writer got there first: two rebuilds never get the same generation,
and a switch-over names the generation it replaces, so it fails (and changes nothing) if someone
else switched those collections meanwhile. The document is one row or one document, so one write
switches every collection of a projection at once: no query ever reads one collection of the old
generation beside another of the new.

`GenerationView` is the read store as one generation sees it: every collection declared through it
is pinned to that generation. Projections are constructed with a view, so a projection writes one
generation from its first event to its last, whatever the alias says meanwhile.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from shared.errors import TransientError
from shared.events import isoformat, utcnow
from shared.readstore.port import (
    Build,
    Collection,
    Generations,
    Index,
    ReadStore,
    Retired,
    check_logical_name,
    iterate,
    saved,
)

_ATTEMPTS = 20


class GenerationConflict(Exception):
    """The alias document is not in the state a change expects (another rebuild, or an operator)."""


class GenerationView:
    """`store` with every collection pinned to `generation`; everything else is the store's own."""

    def __init__(self, store: ReadStore, generation: int) -> None:
        self.store, self.pinned_generation = store, generation

    def collection(self, name: str, indexes: Sequence[Index] = ()) -> Collection:
        return self.store.collection(name, indexes, generation=self.pinned_generation)

    def batch(self) -> Any:
        return self.store.batch()

    def drop(self, name: str) -> None:
        self.store.drop(name, generation=self.pinned_generation)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


def change(store: ReadStore, edit: Callable[[Generations], Generations]) -> Generations:
    """Apply `edit` to the stored alias document by compare-and-set; the document as stored."""
    for _ in range(_ATTEMPTS):
        current = store.load_generations()
        wanted = edit(current)
        if wanted == current:
            return current
        if store.save_generations(wanted, current.revision):
            return saved(wanted, current.revision)
    raise TransientError("the generations document is changing too fast")


def generation_of(generations: Generations, collections: Sequence[str]) -> int:
    """The generation a projection's collections are in: all the same after any switch-over (a
    collection added to a projection later starts in generation 0 until the next rebuild)."""
    return max((generations.of(name) for name in collections), default=0)


def reserve(store: ReadStore, collections: Sequence[str], projection: str) -> tuple[Build, bool]:
    """The generation to build `collections` into, and whether it resumes an unfinished build of
    exactly these collections (its consumer group kept its offsets, so it goes on from there)."""
    for name in collections:
        check_logical_name(name)
    names = tuple(sorted(collections))
    found: list[Build] = []

    def edit(g: Generations) -> Generations:
        found.clear()
        for build in g.building:
            if build.collections == names:
                found.append(build)
                return g
            if set(build.collections) & set(names):
                raise GenerationConflict(f"generation {build.generation} of {build.projection} is being built "
                                         f"into some of these collections: {', '.join(build.collections)}")
        build = Build(g.last + 1, names, projection, isoformat(utcnow()))
        found.append(build)
        return replace(g, last=build.generation, building=(*g.building, build))

    before = store.load_generations()
    change(store, edit)
    return found[0], found[0] in before.building


def switch(store: ReadStore, collections: Sequence[str], *, to: int, expected: int, projection: str,
           retired_group: str) -> Generations:
    """Make `to` the current generation of every one of `collections` in one write, provided they
    are all still in `expected`; `expected` becomes a retired generation (kept until dropped)."""
    names = tuple(sorted(collections))

    def edit(g: Generations) -> Generations:
        moved = {name: g.of(name) for name in names if g.of(name) != expected}
        if moved:
            raise GenerationConflict(f"expected generation {expected}, found {moved}: switched by someone else")
        current = {k: v for k, v in g.current.items() if k not in names}
        current.update({name: to for name in names if to})
        retired = tuple(r for r in g.retired if r.generation != to)
        if expected != to:
            retired += (Retired(expected, names, projection, retired_group, isoformat(utcnow())),)
        return replace(g, current=current, building=tuple(b for b in g.building if b.generation != to),
                       retired=retired)

    return change(store, edit)


def abandon(store: ReadStore, generation: int) -> Build | None:
    """Forget an unfinished build (its collections are dropped by the caller)."""
    gone: list[Build] = []

    def edit(g: Generations) -> Generations:
        gone[:] = [b for b in g.building if b.generation == generation]
        return replace(g, building=tuple(b for b in g.building if b.generation != generation))

    change(store, edit)
    return gone[0] if gone else None


def drop_retired(store: ReadStore, retired: Retired) -> None:
    """Drop a retired generation's collections and its consumer group's bookkeeping, then forget it.

    Never the current generation of any collection: refused with GenerationConflict."""
    current = store.load_generations()
    live = [name for name in retired.collections if current.of(name) == retired.generation]
    if live:
        raise GenerationConflict(f"generation {retired.generation} is current again for {', '.join(live)}")
    for name in retired.collections:
        store.drop(name, generation=retired.generation)
    for bookkeeping in ("checkpoints", "parked_streams"):
        docs = store.collection(bookkeeping, [Index("group_id")])
        for doc in list(iterate(docs, {"group_id": retired.group_id})):
            docs.delete(doc["_id"])
    change(store, lambda g: replace(g, retired=tuple(r for r in g.retired if r.generation != retired.generation)))


def retired_of(generations: Generations, collections: Sequence[str]) -> Iterator[Retired]:
    names = set(collections)
    return (r for r in generations.retired if set(r.collections) & names)
