"""The splicing decoder's quick pass on typed collections (db/blob_splice.py `_collection`).

The quick pass takes a collection's expected `$date` tags from its typed date fields and checks
everything else with byte counts; these blobs put `$` and tags where those counts must notice
them, and each must decode exactly as db/blob.py's step-by-step decoder decodes it (BLOB-6).
"""

from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest

from db.blob import BlobLimits, blob_json, compress, decode_blob, decode_with_raw
from db.blob_decode import TagDecoder
from db.blob_splice import _quick
from db.fast_store import FastVirtualStore
from engine.errors import EngineError
from engine.execution import ExecOptions
from engine.wire import AutoRespondConfig, Target
from tests.conftest import T0, make_engine

LIMITS = BlobLimits()
DATE = {"$date": "2026-01-01T00:00:00.000Z"}
Top = dict[str, Any]


def real_blob(cuddle_workflow: dict[str, Any]) -> Top:
    """A real run's blob as its JSON object (runs, branches, events, versions, answers)."""
    store = FastVirtualStore.fresh(T0)
    make_engine(mode="virtual", store=store).virtual_start(
        workflow=cuddle_workflow, has_blob=False, run_id=None,
        target=Target(step_id="text_overlays", module_name="select_text_overlay"),
        capabilities=[], opts=ExecOptions(mock=True, auto_respond=AutoRespondConfig(seed=3)))
    top: Top = json.loads(blob_json(store.to_blob()))
    assert top["collections"]["events"] and top["collections"]["interaction_answers"]
    return top


@pytest.fixture(scope="module")
def base(cuddle_workflow: dict[str, Any]) -> Top:
    return real_blob(cuddle_workflow)


def _json(top: Top) -> bytes:
    """Compact UTF-8 JSON as our encoder writes it (no `\\u` escapes, which the quick pass
    leaves to the careful path)."""
    return json.dumps(top, separators=(",", ":"), ensure_ascii=False).encode()


def _outcomes(top: Top) -> tuple[Any, Any]:
    return _outcomes_of(_json(top))


def _outcomes_of(raw: bytes) -> tuple[Any, Any]:
    """The quick decoder's and db.blob's result for one blob JSON: documents or error."""
    text = compress(raw)
    out = []
    for decode in (lambda: decode_with_raw(text, LIMITS)[0],
                   lambda: decode_blob(text, max_encoded_bytes=LIMITS.max_encoded_bytes,
                                       max_decompressed_bytes=LIMITS.max_decompressed_bytes)):
        try:
            out.append(("ok", decode()))
        except EngineError as exc:
            out.append((exc.error_type, exc.details.get("reason"), str(exc)))
    return out[0], out[1]


def _event(edit: Callable[[dict[str, Any]], None]) -> Callable[[Top], None]:
    def apply(top: Top) -> None:
        edit(top["collections"]["events"][-1])
    return apply


def _answer(edit: Callable[[dict[str, Any]], None]) -> Callable[[Top], None]:
    def apply(top: Top) -> None:
        edit(top["collections"]["interaction_answers"][0])
    return apply


QUICK = {  # edits the quick pass still decides (other `$` that are plain data)
    "dollar text": _event(lambda e: e["data"].update(price="$5", note='"$date" in text')),
    "pipeline key": _event(lambda e: e["data"].update(stage={"$sort": {"a": 1}})),
    "extra top-level date": _answer(lambda a: a.update(seen_at=DATE)),
}
CAREFUL = {  # edits that must take the step-by-step path, with its acceptance and errors
    "nested tag": _event(lambda e: e["data"].update(at=DATE)),
    "nested escape": _event(lambda e: e["data"].update(at={"$esc": {"$date": 1}})),
    "dollar top-level key": _event(lambda e: e.update({"$x": 1})),
    "date with a second key": _event(lambda e: e.update(timestamp={**DATE, "y": 1})),
    "escaped date": _event(lambda e: e.update(timestamp={"$esc": DATE})),
    "bad date": _event(lambda e: e.update(timestamp={"$date": "2026-13-01T00:00:00.000Z"})),
}
TYPED = {  # edits the quick pass decodes and the typed checks then refuse, as db.blob's do
    "date not a tag": _event(lambda e: e.update(timestamp={"a": 1})),
    "date as text": _answer(lambda a: a.update(created_at=DATE["$date"])),
    "missing field": _event(lambda e: e.pop("event_type")),
    "tag in a non-date field": _event(lambda e: e.update(step_id=DATE)),
    "event data a list": _event(lambda e: e.update(data=[1])),  # the loose check, then strict
    "event data null": _event(lambda e: e.update(data=None)),
    "event data text and a bad sequence": _event(lambda e: e.update(data="x", sequence="1")),
}
EDITS = {**QUICK, **CAREFUL, **TYPED}


@pytest.mark.parametrize("case", sorted(EDITS))
def test_quick_pass_decodes_as_db_blob(base: Top, case: str) -> None:
    """[BLOB-2][BLOB-6] Same documents, or the same error with the same reason and message;
    the quick pass answers only where its byte counts prove it may."""
    top = copy.deepcopy(base)
    EDITS[case](top)
    fast, reference = _outcomes(top)
    assert fast == reference
    assert (_quick(_json(top), TagDecoder(LIMITS.max_depth, True)) is not None) == (case not in CAREFUL)
    if case in TYPED:
        assert fast[:2] == ("invalid_virtual_db", "bad_document")
    if case in QUICK:
        assert fast[0] == "ok"
        assert fast[1]["events"][-1]["timestamp"].tzinfo is not None


SPLITS = {  # the one-pass split of the blob into documents (db/blob_splice.py `_SPLIT`)
    "whitespace between documents": lambda raw: raw.replace(b'},{"event_id"', b'} ,\n {"event_id"'),
    "collection not an array": lambda raw: raw.replace(
        b'"collections":{', b'"collections":{"workflow_files":{"a":1},', 1),
    "document not an object": lambda raw: raw.replace(b'"events":[', b'"events":[1,', 1),
    "empty collection": lambda raw: raw.replace(b'"collections":{', b'"collections":{"users":[],', 1),
    "one document": lambda raw: raw.replace(b'"collections":{',
                                            b'"collections":{"workflow_files":[{"a":1}],', 1),
}


@pytest.mark.parametrize("case", sorted(SPLITS))
def test_the_one_pass_split_decodes_as_db_blob(base: Top, case: str) -> None:
    """[BLOB-6] Same documents or the same error whatever lies between and around documents."""
    raw = SPLITS[case](_json(base))
    assert raw != _json(base)
    out = _outcomes_of(raw)
    assert out[0] == out[1]
    assert (out[0][0] == "ok") == (case in {"whitespace between documents", "empty collection",
                                            "one document"})
