"""One operation's view of a run: its lineage, position, state and the event writer.

A `RunSession` is created under the run's lock, reads the lineage once and then keeps the
cursor and the flat state up to date in memory as it appends events, so an operation never
re-reads what it has just written (engine.md §5, §6, §7, ENG-51).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Mapping

import engine.cursor as cur
from engine.errors import ConcurrentModification
from engine.jsonutil import canonical_json
from engine.ports import Clock, IdGenerator, Store
from engine.state_tree import completed_node
from engine.workflow_index import WorkflowIndex

if TYPE_CHECKING:
    from engine.fold_cache import Fold

Doc = dict[str, Any]


@dataclass
class PendingAnswer:
    interaction_id: str
    branch_id: str


@dataclass
class RunSession:
    store: Store
    clock: Clock
    ids: IdGenerator
    run: dict[str, Any]
    branch: dict[str, Any]
    events: list[dict[str, Any]]
    version: dict[str, Any]
    index: WorkflowIndex
    next_sequence: int
    mock: bool
    cursor: cur.Cursor = field(default_factory=cur.Cursor)
    state: dict[str, Any] = field(default_factory=dict)
    writes: int = 0
    answers: list[PendingAnswer] = field(default_factory=list)
    #: the run's highest-sequence event known to this session (a fold's anchor, engine/fold_cache.py)
    anchor: dict[str, Any] | None = None
    #: True when `cursor` and `state` are given already folded over `events` (a fold cache hit)
    prefolded: bool = False
    #: the fold this session was loaded from or last kept as (its byte count is reused)
    fold_base: Fold | None = None
    #: the event data of each state key a module's completion wrote last (`editor_state`)
    nodes: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.prefolded:
            return
        self.cursor = cur.Cursor()
        self.state = {}
        self.nodes = {}
        for event in self.events:
            cur.apply(self.cursor, event)
            apply_state(self.state, event, self.nodes)

    # ------------------------------------------------------------------ identity

    @property
    def run_id(self) -> str:
        return str(self.run["workflow_run_id"])

    @property
    def branch_id(self) -> str:
        return str(self.branch["branch_id"])

    @property
    def lineage(self) -> list[dict[str, Any]]:
        return list(self.branch["lineage"])

    # ------------------------------------------------------------------ writing

    def append(self, event_type: str, step_id: str | None, module_name: str | None,
               data: dict[str, Any], *, provenance: str | None = None,
               branch_id: str | None = None) -> dict[str, Any]:
        """Insert one event at the next sequence and fold it into cursor and state.

        A duplicate sequence means another writer advanced the run first (ENG-51).
        """
        doc = {
            "event_id": self.ids.new_id("evt_"),
            "workflow_run_id": self.run_id,
            "branch_id": branch_id or self.branch_id,
            "sequence": self.next_sequence,
            "workflow_version_id": self.run["current_workflow_version_id"],
            "event_type": event_type,
            "timestamp": self.clock.now(),
            "provenance": provenance or ("mock" if self.mock else "live"),
            "step_id": step_id,
            "module_name": module_name,
            "data": data,
        }
        try:
            self.store.append_event(doc)
        except ConcurrentModification:
            raise ConcurrentModification(
                "Another operation modified this run first; reload and try again",
                details={"workflow_run_id": self.run_id}) from None
        self.next_sequence += 1
        self.writes += 1
        self.anchor = doc
        if doc["branch_id"] == self.branch_id:
            self.events.append(doc)
            cur.apply(self.cursor, doc)
            apply_state(self.state, doc, self.nodes)
        return doc

    def switch_branch(self, branch: dict[str, Any], kept_events: list[dict[str, Any]]) -> None:
        """Adopt a new branch whose lineage is `kept_events` (plus what is appended next)."""
        self.branch = branch
        self.events = list(kept_events)
        self.cursor = cur.fold(self.events)
        self.state = {}
        self.nodes = {}
        for event in self.events:
            apply_state(self.state, event, self.nodes)

    # ------------------------------------------------------------------ reading helpers

    def latest_request_event(self, interaction_id: str) -> dict[str, Any] | None:
        """The latest `interaction_requested` or `interaction_refreshed` of an id (§9.1)."""
        event: Doc
        for event in reversed(self.events):
            if event["event_type"] in ("interaction_requested", "interaction_refreshed") and \
                    (event.get("data") or {}).get("interaction_id") == interaction_id:
                return event
        return None

    def request_event(self, interaction_id: str) -> dict[str, Any] | None:
        event: Doc
        for event in reversed(self.events):
            if event["event_type"] == "interaction_requested" and \
                    (event.get("data") or {}).get("interaction_id") == interaction_id:
                return event
        return None

    def response_event(self, interaction_id: str) -> dict[str, Any] | None:
        event: Doc
        for event in reversed(self.events):
            if event["event_type"] == "interaction_response" and \
                    (event.get("data") or {}).get("interaction_id") == interaction_id:
                return event
        return None

    def pending_interaction_id(self) -> str | None:
        return self.cursor.interaction_id if self.cursor.phase == cur.AWAITING else None

    def editor_state(self) -> dict[str, Any]:
        """`editor_flat_state` of the lineage (engine/state_tree.py) from the fold: the flat
        state with each module's entry as its node (outputs plus `_state_mapped`)."""
        nodes = self.nodes
        return {key: completed_node(nodes[key]) if key in nodes else value
                for key, value in self.state.items()}

    def state_snapshot(self) -> dict[str, Any]:
        return copy.deepcopy(self.state)

    def module_state(self, transient: dict[str, Any] | None = None) -> dict[str, Any]:
        """The state one module execution reads, plus its transient keys (engine.md §6.2).

        Not a copy: nothing writes to the state while a module runs, templates cannot change it
        (immutable sandbox, per-render proxies) and modules read it through `ReadOnlyState`.
        Copying the whole state for every module made runs quadratic in their length (issue 15).
        """
        return self.state if not transient else {**self.state, **transient}

    def is_mock_tainted(self) -> bool:
        return any(e.get("provenance") == "mock" for e in self.events)


class ReadOnlyState(Mapping[str, Any]):
    """A module's `context.state` (modules.md §1.4): read-only, each value deep-copied on first
    read, so a module can neither alter the run's state nor pay for copying keys it never reads."""

    __slots__ = ("_copies", "_data")

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data
        self._copies: dict[str, Any] = {}

    def __getitem__(self, key: str) -> Any:
        try:
            return self._copies[key]
        except KeyError:
            value = self._copies[key] = copy.deepcopy(self._data[key])
            return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data


def apply_state(state: dict[str, Any], event: dict[str, Any],
                nodes: dict[str, Any] | None = None) -> None:
    """Fold one event into the flat state (ENG-18); `nodes` keeps, for each key a module's
    completion wrote last, that event's data (the editor's state shows it as the module node)."""
    kind = event["event_type"]
    if kind == "module_completed":
        data = event["data"]
        state[event["module_name"]] = data.get("outputs")
        if nodes is not None:
            nodes[event["module_name"]] = data
        for key, value in (data.get("state_mapped") or {}).items():
            state[key] = value
            if nodes is not None:
                nodes.pop(key, None)
    elif kind == "sub_action_completed":
        for key, value in (event["data"].get("state_mapped") or {}).items():
            state[key] = value
            if nodes is not None:
                nodes.pop(key, None)


def flat_state(events: list[dict[str, Any]]) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for event in events:
        apply_state(state, event)
    return state


def event_size(data: dict[str, Any]) -> int:
    return len(canonical_json(data))
