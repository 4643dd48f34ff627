"""The fold cache: each run's folded lineage kept between operations (issue 13, "no full re-fold").

Loading a run used to read its branch, every lineage event, its version and its highest sequence,
then fold all of it, on every call. A `Fold` keeps what that produced (lineage events, cursor,
flat state, version and index) for the run, tied to an *anchor*: the run's event with the highest
sequence when the fold was taken. A load then checks it with one cheap read, the run's events
from the anchor's sequence on (an indexed range that is usually one document), and uses it only
when that first event *is* the anchor; newer events of the run's branch are folded forward.

Correctness never depends on a hit: a fold is used only when the store still holds the anchor
at its sequence, the run still points at the fold's branch and version and belongs to the same
user; anything else (a blob of another checkpoint, another worker's jump, a deleted run) is a
miss of that fold and, when no other fold serves, the run is loaded in full. Events are
immutable and sequences unique per run, so the events up to the anchor cannot have changed. A
fold is copied on the way out (the list of events, the state dict, the cursor), so nothing an
operation appends or sets reaches the cache; event documents and state values are shared, as
nothing writes to them.

*Several anchors per run* (virtual server): the editor sends back the blob it just got, or an
older checkpoint, and a load-test client sends one blob again and again. Each of those blobs
holds the run at a different anchor, so the cache keeps up to `FOLDS_PER_RUN` folds of a run,
most recently used first, and a virtual load checks them in that order until one's anchor is
in the store. A production store only moves forward, so there a run keeps its newest fold only.

Bounded by entries (runs) and by estimated bytes, least recently used run first: the JSON size
of each fold's events and version document, where a fold taken from another one of the same run
still kept counts only the events it added (they share the rest); folds of one version share
its workflow, so the estimate errs high.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec

import engine.cursor as cur
from engine.content_cache import BoundedLru
from engine.workflow_index import WorkflowIndex

Doc = dict[str, Any]

#: the fields of the anchor event compared with the stored one
ANCHOR_KEYS = ("event_id", "sequence", "branch_id", "event_type", "data")
_encoder = msgspec.json.Encoder(enc_hook=str)


def event_bytes(events: Any) -> int:
    """Estimated memory of events: their JSON size (what the byte bound counts)."""
    return sum(len(_encoder.encode(e)) for e in events)


def stored_event_bytes(store: Any, run_id: str) -> int | None:
    """The JSON size of all the run's stored events when the store knows it without encoding
    (the virtual store keeps each record's blob JSON, `FastVirtualStore.run_event_bytes`), else
    None. A fold's events are a subset of the run's events, and the blob form of a document
    (`$date` objects, the input's escapes) is not shorter than its plain JSON, so this errs
    high, as the byte bound wants, and costs no re-encoding of a long lineage."""
    sizer = getattr(store, "run_event_bytes", None)
    if sizer is None:
        return None
    size = sizer(run_id)
    return size if isinstance(size, int) else None


def same_event(a: Doc, b: Doc) -> bool:
    return all(a.get(k) == b.get(k) for k in ANCHOR_KEYS)


#: the most folds kept for one run (each a different anchor: blobs of different checkpoints)
FOLDS_PER_RUN = 8


@dataclass(frozen=True)
class Fold:
    """One run's lineage folded up to `anchor`, the run's highest-sequence event then."""

    run_id: str
    user_id: str
    branch: Doc
    version: Doc
    index: WorkflowIndex
    events: tuple[Doc, ...]
    cursor: cur.Cursor
    state: Doc
    #: the session's `nodes` (engine/session.py: the editor's state view)
    nodes: Doc
    anchor: Doc
    nbytes: int
    #: the anchor event id of the fold this one extends (it shares that fold's events), if any
    base_id: str | None = None
    #: the estimated bytes of the events this fold added to its base's (nbytes without a base)
    own_bytes: int = 0

    @property
    def branch_id(self) -> str:
        return str(self.branch["branch_id"])

    @property
    def version_id(self) -> str:
        return str(self.version["workflow_version_id"])

    @property
    def anchor_id(self) -> str:
        return str(self.anchor.get("event_id"))

    @property
    def sequence(self) -> int:
        return int(self.anchor["sequence"])

    def matches(self, run: Doc) -> bool:
        """The run document still points where the fold was taken (cheap, before any read)."""
        return (run.get("user_id") == self.user_id
                and run.get("current_branch_id") == self.branch_id
                and run.get("current_workflow_version_id") == self.version_id)


def run_bytes(folds: tuple[Fold, ...]) -> int:
    """The estimate of one run's folds: a fold whose base is kept too counts only what it added."""
    kept = {f.anchor_id for f in folds}
    return sum(f.own_bytes if f.base_id in kept else f.nbytes for f in folds)


class FoldCache(BoundedLru[str, tuple[Fold, ...]]):
    """Process-local folds by run id (up to `FOLDS_PER_RUN` each, most recently used first),
    bounded by `max_entries` runs and `max_bytes` (LRU). A lookup counts nothing: only the
    load knows, after its check read, whether a fold served (`record`)."""

    def __init__(self, enabled: bool = True, max_bytes: int = 268435456,
                 max_entries: int = 1024, per_run: int = FOLDS_PER_RUN) -> None:
        super().__init__(enabled, max_bytes, max_entries)
        self.per_run = max(per_run, 1)
        #: a version document's JSON size by version id (versions are immutable)
        self._version_bytes: dict[str, int] = {}

    def candidates(self, run_id: str) -> tuple[Fold, ...]:
        """The run's folds, most recently used or kept first."""
        return self._lookup(run_id, count=False) or ()

    def get(self, run_id: str) -> Fold | None:
        """The run's most recently used or kept fold."""
        folds = self.candidates(run_id)
        return folds[0] if folds else None

    def put(self, fold: Fold, keep_others: bool = False) -> None:
        """Keep `fold` as the run's most recent; with `keep_others` the run's other folds stay
        (up to `per_run`, least recently used dropped), else it replaces them."""
        kept: tuple[Fold, ...] = (fold,)
        if keep_others:
            others = tuple(f for f in self.candidates(fold.run_id)
                           if f.anchor_id != fold.anchor_id)
            kept += others[:self.per_run - 1]
        self._keep(fold.run_id, kept, run_bytes(kept))

    def used(self, fold: Fold) -> None:
        """`fold` just served a load: it becomes its run's most recent (others stay)."""
        folds = self.candidates(fold.run_id)
        if folds and folds[0] is not fold and fold in folds:
            kept = (fold, *(f for f in folds if f is not fold))
            self._keep(fold.run_id, kept, run_bytes(kept))

    def discard(self, fold: Fold) -> None:
        """Forget one fold of a run (its anchor is gone for good)."""
        folds = self.candidates(fold.run_id)
        if fold in folds:
            kept = tuple(f for f in folds if f is not fold)
            if kept:
                self._keep(fold.run_id, kept, run_bytes(kept))
            else:
                self.drop(fold.run_id)

    def version_bytes(self, version: Doc) -> int:
        """The JSON size of a version document, measured once per version id."""
        key = str(version.get("workflow_version_id"))
        with self._lock:
            size = self._version_bytes.get(key)
        if size is None:
            size = event_bytes([version])
            with self._lock:
                if len(self._version_bytes) >= max(self.max_entries, 1):
                    self._version_bytes.clear()
                self._version_bytes[key] = size
        return size


def take_fold(run_id: str, user_id: str, branch: Doc, version: Doc, index: WorkflowIndex,
              events: list[Doc], cursor: cur.Cursor, state: Doc, nodes: Doc, anchor: Doc,
              base: Fold | None, version_bytes: int, events_bytes: int | None = None) -> Fold:
    """A fold holding copies of a session's containers; its byte estimate (events and version
    document) grows from `base` when the events extend base's over the same version (the
    common case: one operation appended a few). `events_bytes`: an upper estimate of all of
    `events` already known (`stored_event_bytes`), used instead of encoding them."""
    n = len(base.events) if base is not None else 0
    base_id = None
    if base is not None and base.version is version and n <= len(events) \
            and (n == 0 or events[n - 1] is base.events[n - 1]):
        own = event_bytes(events[n:])
        nbytes, base_id = base.nbytes + own, base.anchor_id
    else:
        known = events_bytes if events_bytes is not None else event_bytes(events)
        nbytes = own = known + version_bytes
    return Fold(run_id=run_id, user_id=user_id, branch=branch, version=version, index=index,
                events=tuple(events), cursor=cursor.copy(), state=dict(state),
                nodes=dict(nodes), anchor=anchor, nbytes=nbytes, base_id=base_id, own_bytes=own)
