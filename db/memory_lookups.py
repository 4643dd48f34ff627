"""Lookups over the memory executor's record lists (issue 13: the warm path is O(change)).

Every virtual request checks its run's fold with "the run's events from sequence s on"
(db/queries.py `events_from_query`) and records its answer's outcome by the answer's unique key;
scanning every record made both, and so every warm request, grow with the history.

- `SequenceIndex` maps each run id to its events' sequences (ascending) and their positions in
  the collection's record list, so the fold check is a bisection;
- `KeyIndex` maps the string values of a unique index's fields to a position, so a filter that
  is exactly those fields' equalities finds its record without a scan.

Each answers exactly what the scan would: only records whose fields hold plain strings (and a
plain integer sequence) are indexed, a record holding anything the index does not model there
(a float, an array, a nested document, a string subclass, a duplicate key) makes it unusable
and the executor scans instead, and positions come back in record order, as the scan gives
them. Positions hold because a record list only grows at its end or has a record replaced in
place; anything else (a delete, a reorder, a bulk load) drops the lookups, and the next read
builds them again. `Lookups` holds one collection's, each built on its first use.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from typing import Any

RUN, SEQUENCE = "workflow_run_id", "sequence"
Fields = tuple[str, ...]
_MIN, _MAX = -(2**63), 2**63 - 1  # what an array of machine integers holds


def _entry(rec: Any) -> tuple[str | None, int] | None:
    """(run id, sequence) to index `rec` under; (None, 0): it never matches; None: a value the
    index does not model (the executor scans instead)."""
    if RUN in rec.nested or SEQUENCE in rec.nested:
        return None
    run_id, sequence = rec.skel.get(RUN), rec.skel.get(SEQUENCE)
    if run_id is None or sequence is None:
        return (None, 0)  # missing or null: a string equality or a `$gte` never matches it
    if type(run_id) is not str or type(sequence) is not int or not _MIN <= sequence <= _MAX:
        return None
    return run_id, sequence


class SequenceIndex:
    """run id → (sequences ascending, record positions in the same order), as arrays of machine
    integers: a fork's copy is a memory copy, and the collector has nothing to traverse."""

    __slots__ = ("_runs", "usable")

    def __init__(self) -> None:
        self._runs: dict[str, tuple[array[int], array[int]]] = {}
        self.usable = True

    @classmethod
    def build(cls, recs: list[Any]) -> SequenceIndex:
        index = cls()
        for pos, rec in enumerate(recs):
            index.add(rec, pos)
            if not index.usable:
                break
        return index

    def add(self, rec: Any, pos: int) -> None:
        """Index the record now at `pos` (appended, so normally the highest sequence)."""
        entry = _entry(rec)
        if entry is None:
            self.usable = False
            return
        run_id, sequence = entry
        if run_id is None:
            return
        found = self._runs.get(run_id)
        if found is None:
            found = self._runs[run_id] = (array("q"), array("q"))
        seqs, positions = found
        if not seqs or seqs[-1] <= sequence:
            seqs.append(sequence)
            positions.append(pos)
            return
        at = bisect_right(seqs, sequence)
        seqs.insert(at, sequence)
        positions.insert(at, pos)

    def positions_from(self, run_id: str, sequence: int) -> list[int]:
        """Positions of the run's records with a sequence ≥ `sequence`, in record order."""
        found = self._runs.get(run_id)
        if found is None:
            return []
        seqs, positions = found
        return sorted(positions[bisect_left(seqs, sequence):])

    def copy(self) -> SequenceIndex:
        twin = SequenceIndex()
        twin._runs = {run_id: (array("q", seqs), array("q", positions))
                      for run_id, (seqs, positions) in self._runs.items()}
        twin.usable = self.usable
        return twin


def from_shape(coll: str, flt: dict[str, Any]) -> tuple[str, int] | None:
    """(run id, sequence) when `flt` on `coll` is exactly a run's events from a sequence on."""
    if coll != "events" or len(flt) != 2:
        return None
    run_id, bound = flt.get(RUN), flt.get(SEQUENCE)
    if type(run_id) is not str or type(bound) is not dict or len(bound) != 1:
        return None
    sequence = bound.get("$gte")
    return (run_id, sequence) if type(sequence) is int else None


#: layers a fork's key index may stack on its source's before it is flattened
MAX_LAYERS = 8


class KeyIndex:
    """The string values of `fields` → the position of the one record holding them.

    A fork writing a collection of a cached store stacks a *layer* on the cached index (the
    keys it added or moved, the keys of the base it removed) instead of copying every key: a
    warm request's copy is O(1), and every `MAX_LAYERS` layers the index is flattened again.
    A base never changes once a layer is stacked on it (it belongs to a frozen collection).
    """

    __slots__ = ("_at", "_base", "_depth", "_gone", "fields", "usable")

    def __init__(self, fields: Fields) -> None:
        self.fields = fields
        self._at: dict[Fields, int] = {}
        self._base: KeyIndex | None = None
        self._gone: set[Fields] = set()
        self._depth = 0
        self.usable = True

    @classmethod
    def build(cls, fields: Fields, recs: list[Any]) -> KeyIndex:
        index = cls(fields)
        for pos, rec in enumerate(recs):
            index.add(rec, pos)
            if not index.usable:
                break
        return index

    def _key(self, rec: Any) -> Fields | None:
        """The record's key; () when a string equality can never match it; None: unusable."""
        parts = []
        for field in self.fields:
            if field in rec.nested:
                self.usable = False
                return None
            value = rec.skel.get(field)
            if type(value) is not str:
                if isinstance(value, str):
                    self.usable = False
                    return None
                return ()
            parts.append(value)
        return tuple(parts)

    def _find(self, key: Fields) -> int | None:
        layer: KeyIndex | None = self
        while layer is not None:
            pos = layer._at.get(key)
            if pos is not None:
                return pos
            if key in layer._gone:
                return None
            layer = layer._base
        return None

    def add(self, rec: Any, pos: int) -> None:
        key = self._key(rec)
        if key:
            if self._find(key) is not None:
                self.usable = False
            self._at[key] = pos

    def remove(self, rec: Any, pos: int) -> None:
        key = self._key(rec)
        if key and self._find(key) == pos:
            self._at.pop(key, None)
            if self._base is not None:
                self._gone.add(key)

    def positions(self, flt: dict[str, Any]) -> list[int]:
        pos = self._find(tuple(flt[f] for f in self.fields))
        return [] if pos is None else [pos]

    def _flat(self) -> dict[Fields, int]:
        if self._base is None:
            return dict(self._at)
        flat = self._base._flat()
        for key in self._gone:
            flat.pop(key, None)
        flat.update(self._at)
        return flat

    def copy(self) -> KeyIndex:
        """An independent, flat copy."""
        twin = KeyIndex(self.fields)
        twin._at = self._flat()
        twin.usable = self.usable
        return twin

    def layer(self) -> KeyIndex:
        """A copy for a fork of a collection that never changes again: a new layer on top of
        this index, or a flat copy every `MAX_LAYERS`."""
        if self._depth >= MAX_LAYERS or not self.usable:
            return self.copy()
        twin = KeyIndex(self.fields)
        twin._base, twin._depth = self, self._depth + 1
        return twin


class Lookups:
    """One collection's lookups; `unique` are its unique indexes' fields (the `KeyIndex`es)."""

    __slots__ = ("keys", "name", "ranges")

    def __init__(self, name: str) -> None:
        self.name = name
        self.ranges: SequenceIndex | None = None
        self.keys: dict[Fields, KeyIndex] = {}

    def copy(self) -> Lookups:
        twin = Lookups(self.name)
        twin.ranges = None if self.ranges is None else self.ranges.copy()
        # a snapshot first: another thread may be building a lookup of a shared collection
        twin.keys = {fields: index.copy() for fields, index in dict(self.keys).items()}
        return twin

    def fork(self) -> Lookups:
        """`copy` for a fork of a collection that never changes again: its key indexes are
        layered on these (`KeyIndex.layer`) rather than copied key by key."""
        twin = Lookups(self.name)
        twin.ranges = None if self.ranges is None else self.ranges.copy()
        twin.keys = {fields: index.layer() for fields, index in dict(self.keys).items()}
        return twin

    def positions(self, recs: list[Any], flt: dict[str, Any],
                  unique: list[Fields]) -> list[int] | None:
        """Positions of the records matching `flt`, in record order; None: scan instead."""
        shape = from_shape(self.name, flt)
        if shape is not None:
            if self.ranges is None:
                self.ranges = SequenceIndex.build(recs)
            return self.ranges.positions_from(*shape) if self.ranges.usable else None
        if not all(type(value) is str for value in flt.values()):
            return None
        names = set(flt)
        for fields in unique:
            if len(fields) == len(names) and names.issuperset(fields):
                index = self.keys.get(fields)
                if index is None:
                    index = self.keys[fields] = KeyIndex.build(fields, recs)
                return index.positions(flt) if index.usable else None
        return None

    def appended(self, rec: Any, pos: int) -> None:
        if self.ranges is not None:
            self.ranges.add(rec, pos)
        for index in self.keys.values():
            index.add(rec, pos)

    def replaced(self, old: Any, new: Any, pos: int) -> None:
        self.ranges = None
        for index in self.keys.values():
            index.remove(old, pos)
            index.add(new, pos)
