"""A run's events by sequence, for the memory executor (issue 13: the warm path is O(change)).

Every virtual request checks its run's fold with "the run's events from sequence s on"
(db/queries.py `events_from_query`); scanning every event record made that check, and so every
warm request, grow with the history. `SequenceIndex` maps each run id to its events' sequences
(ascending) and their positions in the collection's record list, so the check is a bisection.

It answers exactly what the scan would: only records whose `workflow_run_id` is a plain string
and `sequence` a plain integer are indexed, a record with anything else there (a float, an
array, a nested document) makes the index unusable (the executor scans instead), and the
positions found are returned in record order, as the scan returns them. Positions hold because
the record list only grows at its end or has a record replaced in place; anything else (a
delete, a reorder, a bulk load) drops the index and the next read builds it again.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from typing import Any

RUN, SEQUENCE = "workflow_run_id", "sequence"


def _entry(rec: Any) -> tuple[str | None, int] | None:
    """(run id, sequence) to index `rec` under; (None, 0): it never matches; None: a value the
    index does not model (the executor scans instead)."""
    if RUN in rec.nested or SEQUENCE in rec.nested:
        return None
    run_id, sequence = rec.skel.get(RUN), rec.skel.get(SEQUENCE)
    if run_id is None or sequence is None:
        return (None, 0)  # missing or null: a string equality or a `$gte` never matches it
    if type(run_id) is not str or type(sequence) is not int:
        return None
    return run_id, sequence


class SequenceIndex:
    """run id → (sequences ascending, record positions in the same order)."""

    __slots__ = ("_runs", "usable")

    def __init__(self) -> None:
        self._runs: dict[str, tuple[list[int], list[int]]] = {}
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
            found = self._runs[run_id] = ([], [])
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
        twin._runs = {run_id: (list(seqs), list(positions))
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
