"""`FastVirtualStore` (db/fast_store.py, db/memory_executor.py) against the mongomock store.

The virtual server runs on the fast store; these tests pin it to the reference: the same
operations give byte-identical blobs (BLOB-1, BLOB-7, ST-1), its blob decoder accepts and
rejects exactly what db/blob.py does (BLOB-3…6), and its write counter tells whether the input
blob is still exact (VS-3, VS-5).
"""

from __future__ import annotations

import base64
import gzip
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db.blob import BlobLimits, compress, decode_blob, decode_with_raw, encode_blob
from db.fast_store import FastVirtualStore
from db.virtual_store import VirtualStore
from engine import depth_within, json_depth
from engine.errors import EngineError
from engine.execution import ExecOptions
from engine.ids import SequentialIds
from engine.virtual import VIRTUAL_USER
from engine.wire import AutoRespondConfig, InteractionResponseData, Target
from tests.conftest import T0, make_engine

LIMITS = BlobLimits()
OVERLAY = Target(step_id="text_overlays", module_name="select_text_overlay")


def _flow(store_class: Any, workflow: dict[str, Any]) -> list[str]:
    """Auto-answer to select_text_overlay, retry it twice, run on, then fork back."""
    ids = SequentialIds()
    blobs: list[str] = []
    blob: str | None = None

    def call(op: Any) -> Any:
        nonlocal blob
        store = store_class.fresh(T0) if blob is None else store_class.from_blob(blob, LIMITS, T0)
        eng = make_engine(mode="virtual", store=store, ids=ids)
        response = op(eng, blob is not None)
        blob = store.to_blob()
        blobs.append(blob)
        return response

    response = call(lambda eng, has: eng.virtual_start(
        workflow=workflow, has_blob=has, run_id=None, target=OVERLAY, capabilities=[],
        opts=ExecOptions(mock=True, auto_respond=AutoRespondConfig(seed=3))))
    for _ in range(2):
        iid = response.interaction_request.interaction_id
        response = call(lambda eng, has: eng.virtual_respond(
            workflow=workflow, run_id=None, interaction_id=iid,
            response=InteractionResponseData(retry_requested=True), target=OVERLAY,
            capabilities=[], opts=ExecOptions(mock=True)))
    for target in (Target(step_id="workflow_summary", module_name="write_summary_file"),
                   Target(step_id="scene_generation", module_name="generate_scenes")):
        response = call(lambda eng, has, t=target: eng.virtual_start(
            workflow=workflow, has_blob=has, run_id=None, target=t, capabilities=[],
            opts=ExecOptions(mock=True, auto_respond=AutoRespondConfig())))
    assert response.status == "completed"
    return blobs


def test_same_operations_same_blob_bytes(cuddle_workflow: dict[str, Any]) -> None:
    """[BLOB-1][BLOB-7][ST-1] Every blob of a long flow is byte-identical across both stores."""
    fast = _flow(FastVirtualStore, cuddle_workflow)
    reference = _flow(VirtualStore, cuddle_workflow)
    assert len(fast) == 5 and fast == reference


def test_write_counter_tracks_changes(cuddle_workflow: dict[str, Any]) -> None:
    """[VS-3][VS-5] Loading counts nothing; re-storing the same workflow writes nothing."""
    for store_class in (FastVirtualStore, VirtualStore):
        store = store_class.fresh(T0)
        assert store.writes == 0
        eng = make_engine(mode="virtual", store=store)
        response = eng.virtual_start(workflow=cuddle_workflow, has_blob=False, run_id=None,
                                     target=OVERLAY, capabilities=[], opts=ExecOptions(mock=True))
        assert store.writes > 0
        loaded = store_class.from_blob(store.to_blob(), LIMITS, T0)
        assert loaded.writes == 0
        again = make_engine(mode="virtual", store=loaded)
        again.virtual_prepare(cuddle_workflow, response.workflow_run_id, [])
        again.get_state_view(VIRTUAL_USER, response.workflow_run_id)
        assert loaded.writes == 0, store_class.__name__


# ---- the decoder accepts and rejects exactly what db/blob.py does

def _j(collections: dict[str, Any]) -> str:
    doc = {"format": "workflow-engine-virtual-db", "version": 1, "collections": collections}
    return compress(json.dumps(doc).encode())


def _outcome(text: str, limits: BlobLimits = LIMITS) -> Any:
    try:
        return ("ok", decode_blob(text, max_encoded_bytes=limits.max_encoded_bytes,
                                  max_decompressed_bytes=limits.max_decompressed_bytes,
                                  max_depth=limits.max_depth))
    except EngineError as exc:
        return (exc.error_type, exc.details.get("reason"))


def _fast_outcome(text: str, limits: BlobLimits = LIMITS) -> Any:
    try:
        return ("ok", decode_with_raw(text, limits)[0])
    except EngineError as exc:
        return (exc.error_type, exc.details.get("reason"))


def _deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"k": [value]}
    return value


HOSTILE = [
    _j({"config": [{"type": "t", "name": "n", "v": _deep(46)}]}),  # depth 96: accepted
    _j({"config": [{"type": "t", "name": "n", "v": _deep(48)}]}),  # too deep
    _j({"config": [{"type": "t", "name": "n", "v": {"$date": "2026-13-01T00:00:00.000Z"}}]}),
    _j({"config": [{"type": "t", "name": "n", "v": {"$esc": {"x": 1}}}]}),
    _j({"config": [{"type": "t", "name": "n", "v": {"a\u0000b": 1}}]}),
    _j({"config": [{"type": "t", "name": "n", "v": {"\u0024date": "2026-01-01T00:00:00.000Z"}}]}),
    _j({"config": [{"type": "t", "name": "n", "$top": 1}]}),
    _j({"config": [{"type": "t", "name": "n", "v": "text with \"$date\" inside"}]}),
    _j({"config": [{"type": "t", "name": "n", "v": {"$esc": {"$date": {"$date": "2026-01-01T00:00:00.000Z"}}}}]}),
    _j({"config": [{"type": "t", "name": "n"}, {"type": "t", "name": "n"}]}),
    _j({"config": {"type": "t"}}),
    _j({"nope": []}),
    compress(b'{"format": "workflow-engine-virtual-db", "version": 1, "collections": {}, "x": 1}'),
    compress(b'{"format": "workflow-engine-virtual-db", "version": true, "collections": {}}'),
    compress(b'{"format": "other", "version": 1, "collections": {}}'),
    compress(b"[1, 2]"),
    compress(b"{bad json"),
    base64.b64encode(b"\x28\xb5\x2f\xfd zstd").decode(),
    base64.b64encode(gzip.compress(b"{}") + b"x").decode(),
]


@pytest.mark.parametrize("index", range(len(HOSTILE)))
def test_decoder_matches_db_blob_on_hostile_blobs(index: int) -> None:
    """[BLOB-3][BLOB-5][BLOB-6] Same acceptance, same documents, same error reasons."""
    assert _fast_outcome(HOSTILE[index]) == _outcome(HOSTILE[index])


def test_decoder_limits_match() -> None:
    """[BLOB-4][BLOB-5] Encoded and decompressed limits raise the same errors."""
    text = _j({"config": [{"type": "t", "name": "n", "v": "x" * 5000}]})
    for limits in (BlobLimits(max_encoded_bytes=10), BlobLimits(max_decompressed_bytes=100)):
        assert _fast_outcome(text, limits) == _outcome(text, limits) != ("ok",)


scalars = (st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(max_size=6)
           | st.floats(allow_nan=False, allow_infinity=False)
           | st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                          timezones=st.just(timezone.utc)).map(
               lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)))
keys = st.sampled_from(["a", "$date", "$esc", "b.c", "$match", "x"])
values = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(keys, c, max_size=3),
                      max_leaves=12)


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.lists(st.dictionaries(st.sampled_from(["p", "q", "r"]), values, max_size=3),
                max_size=4))
def test_decoder_round_trips_generated_documents(docs: list[dict[str, Any]]) -> None:
    """[BLOB-2][BLOB-7] Tag-like user data and datetimes decode as db/blob.py decodes them."""
    collection = [{"type": "t", "name": f"n{i}", **doc} for i, doc in enumerate(docs)]
    text = encode_blob({"config": collection})
    assert _fast_outcome(text) == _outcome(text)
    if collection:  # both stores add the virtual user to this blob, identically
        assert FastVirtualStore.from_blob(text, LIMITS, T0).to_blob() == \
            VirtualStore.from_blob(text, LIMITS, T0).to_blob()


@settings(max_examples=200, deadline=None, database=None)
@given(st.recursive(st.text(alphabet='[]{}"\\ab', max_size=5),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(alphabet='[]{}"\\', max_size=3), c, max_size=3),
                    max_leaves=30))
def test_depth_within_is_exact(value: Any) -> None:
    """[WIRE-3][BLOB-6] The C-speed depth test agrees with the reference depth scan."""
    data = json.dumps(value).encode()
    depth = json_depth(data)
    for parsed in (False, True):  # the request-body stripping and the parsed-document one
        assert depth_within(data, depth, parsed=parsed)
        assert depth == 0 or not depth_within(data, depth - 1, parsed=parsed)


def test_reads_are_private_copies() -> None:
    """[ST-2] The first reader gets the loaded document; nobody sees another reader's edits."""
    store = FastVirtualStore.fresh(T0)
    store.executor.insert_one("config", {"type": "t", "name": "n", "value": {"list": [1]},
                                         "at": T0 + timedelta(microseconds=1500)})
    loaded = FastVirtualStore.from_blob(store.to_blob(), LIMITS, T0)
    first = loaded.get_config("t", "n")
    first["value"]["list"].append(2)
    second = loaded.get_config("t", "n")
    assert second["value"] == {"list": [1]} and second["at"] == T0 + timedelta(milliseconds=1)
    assert second["at"].tzinfo is not None


def test_quick_pass_decides_only_plain_blobs() -> None:
    """[BLOB-6] The one-pass decode of a plain one-member blob returns what the step-by-step
    path returns; nested tags, escapes and deep documents are left to that path."""
    from db.blob_decode import TagDecoder
    from db.blob_members import blob_json
    from db.blob_splice import _quick

    decoder = TagDecoder(LIMITS.max_depth, True)
    plain = encode_blob({"config": [{"type": "t", "name": "n", "at": T0, "v": _deep(40)},
                                    {"type": "t", "name": "p", "v": [{"$match": {"a": 1}}]}],
                         "users": [{"user_id": "u", "created_at": T0}]})
    quick = _quick(blob_json(plain), decoder)
    assert quick is not None and quick[0] == decode_blob(
        plain, max_encoded_bytes=LIMITS.max_encoded_bytes,
        max_decompressed_bytes=LIMITS.max_decompressed_bytes)
    assert quick[0]["users"][0]["created_at"] == T0
    for doc in ({"type": "t", "name": "n", "v": {"k": {"$date": "2026-01-01T00:00:00.000Z"}}},
                {"type": "t", "name": "n", "v": "\u00e9"},
                {"type": "t", "name": "n", "v": _deep(49)}):
        text = _j({"config": [doc]})
        assert _quick(blob_json(text), decoder) is None
        assert _fast_outcome(text) == _outcome(text)


@pytest.mark.parametrize(("first", "second", "clash"), [
    (1, 1.0, True), (1, True, False), ("1", 1, False), ("a", "a", True), (None, None, True),
    ({"a": 1, "b": 2}, {"b": 2, "a": 1}, True), ([1], "[1]", False), (T0, T0, True)])
def test_unique_keys_compare_like_mongodb(first: Any, second: Any, clash: bool) -> None:
    """[ST-7] Bare key parts (strings, numbers) keep the unique-key semantics: 1 and 1.0 are
    one key, a boolean, a string or an array is never a number, a missing field is one key."""
    from db.memory_executor import MemoryExecutor
    from engine.errors import ConcurrentModification

    for fields in (("k",), ("k", "j")):
        mem = MemoryExecutor()
        mem.create_index("config", [(f, 1) for f in fields], unique=True)
        mem.insert_one("config", {"j": 0} if first is None else {"k": first, "j": 0})
        second_doc = {"j": 0} if second is None else {"k": second, "j": 0}
        if clash:
            with pytest.raises(ConcurrentModification):
                mem.insert_one("config", second_doc)
        else:
            mem.insert_one("config", second_doc)
            assert mem.count_documents("config", {}) == 2


def test_one_clause_or_matches_like_the_clause() -> None:
    """[ST-9] A lineage filter of a run that never forked (`$or` of one clause) finds what the
    clause joined to the rest finds; an `$or` naming a key of the rest is left as it is."""
    from db.memory_executor import MemoryExecutor

    mem = MemoryExecutor()
    for i in range(6):
        mem.insert_one("config", {"type": "t" if i % 2 else "u", "name": f"n{i}", "b": i % 3})
    names = lambda flt: sorted(d["name"] for d in mem.find("config", flt))  # noqa: E731
    assert names({"type": "t", "$or": [{"b": 1}]}) == names({"type": "t", "b": 1}) == ["n1"]
    assert names({"type": "t", "$or": [{"type": "u"}]}) == []
    assert names({"$or": [{"b": {"$lte": 1}}], "type": "u"}) == ["n0", "n4"]
