"""Unique indexes and collections of the in-memory virtual database (db/memory_executor.py):
normalised key sets with mongomock's sparse semantics, stacked in layers for a fork of a cached
store, and the per-collection record list with its lookups."""

from __future__ import annotations

from typing import Any

import msgspec

from db import memory_query as mq
from db.memory_lookups import Lookups
from db.memory_records import Rec
from engine.errors import ConcurrentModification


def key_part(value: Any) -> Any:
    """One key field's value, normalised: strings and numbers bare (no other part equals one;
    1 and 1.0 are one key, as in MongoDB), booleans apart from numbers, objects and arrays by
    their sorted JSON, anything else tagged with its type. Bare parts keep the key sets of a
    loaded blob small (they are walked by the cyclic collector when a request ends)."""
    if type(value) is str:
        return value
    if value is mq.MISSING or value is None:
        return None
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, (dict, list)):
        return ("j", msgspec.json.encode(value, order="sorted"))
    return (type(value).__name__, value)


#: key parts that are their own normalised form (`key_part`); bool is not int here
_PLAIN_PARTS = frozenset({str, int})
_STR = frozenset({str})
#: layers a fork's unique index may stack on its source's before it is flattened
MAX_LAYERS = 8


class UniqueIndex:
    """A unique index as a set of normalised key tuples (mongomock's sparse semantics).

    The set is built on the first write to the collection: a loaded blob already passed the
    unique-key checks of BLOB-6, and most collections are never written by a request. A fork
    writing a collection of a cached store stacks a *layer* on the cached index instead of
    copying it (the keys it added, the base keys it removed): a warm request's copy is O(1),
    and every `MAX_LAYERS` layers the index is flattened again.
    """

    def __init__(self, fields: tuple[str, ...], sparse: bool) -> None:
        self.fields = fields
        self.sparse = sparse
        #: this layer's keys (all of them when there is no base); None: not built yet
        self._keys: set[Any] | None = None
        #: the index this one is stacked on (it never changes again), if any
        self._base: UniqueIndex | None = None
        #: keys of the base this layer removed
        self._gone: set[Any] = set()
        self._depth = 0

    def key(self, rec: Rec) -> Any:
        """The record's key (None: not indexed, a sparse index without the fields); a one-field
        key is its part itself unless missing, so the common key is no tuple at all."""
        skel = rec.skel
        fields = self.fields
        if len(fields) == 1:
            field = fields[0]
            part = key_part(skel[field] if field in skel else mq.field_value(rec, field))
            if part is None:
                return None if self.sparse else (None,)
            return part
        key = tuple([key_part(skel[f] if f in skel else mq.field_value(rec, f))
                     for f in fields])
        if self.sparse and all(k is None for k in key):
            return None
        return key

    def copy(self) -> "UniqueIndex":
        """An independent, flat copy."""
        twin = UniqueIndex(self.fields, self.sparse)
        twin._keys = None if self._keys is None else self._all()
        return twin

    def layer(self, recs: list[Rec]) -> "UniqueIndex":
        """A copy for a fork of a collection that never changes again (`recs`): a new layer
        on top of this one (built over `recs` first), or a flat copy every `MAX_LAYERS`."""
        self._built(recs)
        if self._depth >= MAX_LAYERS:
            return self.copy()
        twin = UniqueIndex(self.fields, self.sparse)
        twin._keys, twin._base, twin._depth = set(), self, self._depth + 1
        return twin

    def _all(self) -> set[Any]:
        own = self._keys if self._keys is not None else set()
        if self._base is None:
            return set(own)
        return (self._base._all() - self._gone) | own

    def _plain_keys(self, recs: list[Rec]) -> set[Any] | None:
        """The key set when every record holds every field as a string or an int in its
        skeleton and no key repeats (a loaded blob's ids): those parts are their own
        normalised form, so the set is built in comprehensions. None: the general loop."""
        fields = self.fields
        try:
            if len(fields) == 1:
                field = fields[0]
                values: list[Any] = [rec.skel[field] for rec in recs]
                plain = {type(v) for v in values} <= _STR
            else:
                values = [tuple([rec.skel[f] for f in fields]) for rec in recs]
                plain = {type(p) for key in values for p in key} <= _PLAIN_PARTS
        except KeyError:
            return None
        keys = set(values) if plain else None
        return keys if keys is not None and len(keys) == len(values) else None

    def _built(self, recs: list[Rec]) -> set[Any]:
        if self._keys is None:
            plain = self._plain_keys(recs)
            if plain is not None:
                self._keys = plain
                return plain
            built: set[Any] = set()
            for rec in recs:
                key = self.key(rec)
                if key is not None:
                    if key in built:
                        raise ConcurrentModification("duplicate key",
                                                     details={"fields": list(self.fields)})
                    built.add(key)
            self._keys = built
        return self._keys

    def validate(self, recs: list[Rec]) -> None:
        """Build the index over `recs`; a duplicate key raises `ConcurrentModification`."""
        self._built(recs)

    def contains(self, recs: list[Rec], key: Any) -> bool:
        self._built(recs)
        layer: UniqueIndex | None = self
        while layer is not None:
            assert layer._keys is not None  # layers stack on built indexes only
            if key in layer._keys:
                return True
            if key in layer._gone:
                return False
            layer = layer._base
        return False

    def add(self, recs: list[Rec], key: Any) -> None:
        """Add a key `contains` just said is absent (or this layer just removed)."""
        self._built(recs).add(key)

    def discard(self, recs: list[Rec], key: Any) -> None:
        own = self._built(recs)
        if key in own:
            own.discard(key)
        elif self._base is not None:
            self._gone.add(key)


class Collection:
    def __init__(self, name: str) -> None:
        self.name = name
        self.recs: list[Rec] = []
        self.uniques: list[UniqueIndex] = []
        #: what spares the hot reads a scan (db/memory_lookups.py), each built on first use
        self.lookups = Lookups(name)
        #: in a fork's copy, the positions written since (every other record is shared, so a
        #: final freeze only looks at these); None: unknown, look at every record
        self.written: list[int] | None = None

    def appended(self, rec: Rec, keys: list[Any]) -> None:
        """`rec` (with its unique keys) was just appended to `recs`."""
        self.add_keys(keys)
        self.lookups.appended(rec, len(self.recs) - 1)
        if self.written is not None:
            self.written.append(len(self.recs) - 1)

    def share_all(self) -> None:
        """Make every record a shared one (a final freeze): only the written ones when known."""
        recs = self.recs
        if self.written is None:
            self.recs = [rec if rec.shared else rec.shared_copy() for rec in recs]
            return
        for pos in self.written:
            if not recs[pos].shared:
                recs[pos] = recs[pos].shared_copy()
        self.written = None

    def check(self, rec: Rec, ignore: Rec | None = None) -> list[Any]:
        keys = [u.key(rec) for u in self.uniques]
        for unique, key in zip(self.uniques, keys):
            if key is not None and unique.contains(self.recs, key) and (
                    ignore is None or unique.key(ignore) != key):
                raise ConcurrentModification(f"duplicate key in {self.name}",
                                             details={"collection": self.name})
        return keys

    def add_keys(self, keys: list[Any]) -> None:
        for unique, key in zip(self.uniques, keys):
            if key is not None:
                unique.add(self.recs, key)

    def drop_keys(self, rec: Rec) -> None:
        for unique in self.uniques:
            key = unique.key(rec)
            if key is not None:
                unique.discard(self.recs, key)
