"""Virtual blob codec v1 (storage.md §4: BLOB-1…BLOB-8, ACC-V7-1…3)."""

from __future__ import annotations

import base64
import gzip
import struct
import time
import tracemalloc
import zlib
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db.blob import FORMAT, BlobLimits, decode_blob, encode_blob, encode_json
from db.virtual_store import VirtualStore
from engine.errors import InvalidVirtualDb, VirtualDbTooLarge
from engine.jsonutil import canonical_json

NOW = datetime(2026, 3, 4, 5, 6, 7, 89000, tzinfo=timezone.utc)
BIG = 64 * 1024 * 1024
LIMITS = BlobLimits(max_encoded_bytes=BIG, max_decompressed_bytes=BIG)


def decode(text: str | bytes, **kw: Any) -> dict[str, list[dict[str, Any]]]:
    return decode_blob(text, max_encoded_bytes=kw.pop("enc", BIG),
                       max_decompressed_bytes=kw.pop("dec", BIG), **kw)


def b64gz(data: bytes) -> str:
    return base64.b64encode(gzip.compress(data, mtime=0)).decode()


def valid_collections() -> dict[str, list[dict[str, Any]]]:
    run, br = "virtual_" + "a" * 32, "br_" + "1" * 32
    return {
        "workflow_runs": [{
            "workflow_run_id": run, "user_id": "virtual_user_001", "project_name": "virtual_project",
            "workflow_template_name": "cc", "workflow_template_id": "tpl_1",
            "current_workflow_version_id": "ver_1", "current_branch_id": br, "status": "created",
            "mock": True, "parent_workflow_run_id": None, "created_at": NOW, "updated_at": NOW}],
        "branches": [{"branch_id": br, "workflow_run_id": run, "fork_reason": "root",
                      "lineage": [{"branch_id": br, "cutoff_sequence": None,
                                   "cutoff_event_id": None}],
                      "parent_branch_id": None, "created_at": NOW}],
        "events": [{"event_id": f"evt_{i}", "workflow_run_id": run, "branch_id": br, "sequence": i,
                    "workflow_version_id": "ver_1", "event_type": "step_started",
                    "timestamp": NOW, "provenance": "mock", "step_id": "s", "module_name": None,
                    "data": {"step_index": i}} for i in (1, 2)],
    }


def tree(collections: dict[str, Any]) -> dict[str, Any]:
    """The JSON text J as a mutable tree (for crafting invalid variants)."""
    return msgspec.json.decode(encode_json(collections))


def blob_of(j: Any) -> str:
    return b64gz(msgspec.json.encode(j))


def reason(exc: pytest.ExceptionInfo[Any]) -> str:
    return exc.value.details["reason"]


# ---- round trip (BLOB-2, BLOB-7)

_KEYS = st.one_of(st.text(alphabet=st.characters(blacklist_characters="\x00",
                                                 blacklist_categories=("Cs",)), max_size=6),
                  st.sampled_from(["$date", "$esc", "$match", "a.b", "_ux.display", "ключ"]))
_DATES = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1)).map(
    lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000, tzinfo=timezone.utc))
_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(-(2 ** 63), 2 ** 63 - 1),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12), _DATES,
                    st.sampled_from(["$date", "2026-01-01T00:00:00.000Z", "\u2603"]))
_VALUES = st.recursive(_LEAVES, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(_KEYS, inner, max_size=4)), max_leaves=25)


@st.composite
def databases(draw: Any) -> dict[str, list[dict[str, Any]]]:
    n = draw(st.integers(0, 4))
    config = [{"type": "t", "name": f"n{i}", "value": draw(_VALUES), "created_at": draw(_DATES)}
              for i in range(n)]
    tokens = [{"workflow_run_id": "r", "timestamp": draw(_DATES), "usage": draw(_VALUES)}
              for _ in range(draw(st.integers(0, 3)))]
    return {k: v for k, v in {"config": config, "tokens": tokens}.items() if v}


def ordered(doc: Any) -> bytes:
    """Order-preserving comparison (key order is meaningful, e.g. `$sort` specs)."""
    return msgspec.json.encode(doc)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(databases())
def test_round_trip_property_blob_2_blob_7(db: dict[str, list[dict[str, Any]]]) -> None:
    text = encode_blob(db)
    back = decode(text)
    assert set(back) == set(db)
    for name, docs in db.items():
        assert sorted(map(ordered, back[name])) == sorted(map(ordered, docs))
    assert encode_blob(back) == text  # BLOB-7: byte-identical re-export
    store = VirtualStore()
    store.load(db, now=NOW)
    first = store.to_blob()
    again = VirtualStore.from_blob(first, LIMITS, NOW)
    assert again.to_blob() == first
    assert again.export() == store.export()
    for name, docs in db.items():
        assert sorted(map(ordered, again.export()[name])) == sorted(map(ordered, docs))


def test_tags_are_escaped_and_datetimes_typed_blob_2() -> None:
    doc = {"type": "t", "name": "n", "created_at": NOW,
           "value": {"a": {"$date": "2020-01-01T00:00:00.000Z"}, "b": {"$esc": {"$date": 1}},
                     "c": [NOW], "d": {"$date": NOW}}}
    j = msgspec.json.decode(encode_json({"config": [doc]}))
    value = j["collections"]["config"][0]["value"]
    assert value["a"] == {"$esc": {"$date": "2020-01-01T00:00:00.000Z"}}
    assert value["b"] == {"$esc": {"$esc": {"$esc": {"$date": 1}}}}
    assert value["c"] == [{"$date": "2026-03-04T05:06:07.089Z"}]
    assert value["d"] == {"$esc": {"$date": {"$date": "2026-03-04T05:06:07.089Z"}}}
    back = decode(encode_blob({"config": [doc]}))["config"][0]
    assert back == doc and back["created_at"].tzinfo is not None


def test_encoding_is_deterministic_blob_1() -> None:
    cols = valid_collections()
    shuffled = {k: list(reversed(v)) for k, v in reversed(list(cols.items()))}
    text = encode_blob(cols)
    assert encode_blob(shuffled) == text
    raw = base64.b64decode(text)
    assert raw[:2] == b"\x1f\x8b" and raw[4:8] == b"\x00\x00\x00\x00"  # mtime 0
    j = msgspec.json.decode(gzip.decompress(raw))
    assert j["format"] == FORMAT and j["version"] == 1
    assert [e["sequence"] for e in j["collections"]["events"]] == [1, 2]
    assert "_id" not in j["collections"]["events"][0]


def test_export_refuses_non_json_values_blob_2() -> None:
    with pytest.raises(TypeError):
        encode_blob({"config": [{"type": "t", "name": "n", "value": {1, 2}}]})


# ---- limits (BLOB-4, BLOB-5)

def test_encoded_length_checked_before_decoding_blob_4() -> None:
    with pytest.raises(VirtualDbTooLarge) as exc:
        decode("!" * 101, enc=100)
    assert exc.value.details == {"encoded_bytes": 101, "limit": 100}


def _gzip_bomb_1gib() -> str:
    """A valid gzip member of 1 GiB of zeros, streamed as full-flushed deflate blocks."""
    chunk = bytes(1 << 20)
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    end = comp.flush(zlib.Z_FINISH)[:-8]
    crc = 0
    for _ in range(1024):
        crc = zlib.crc32(chunk, crc)
    body = first + block * 1023 + end + struct.pack("<II", crc, (1 << 30) & 0xFFFFFFFF)
    return base64.b64encode(body).decode()


def test_gzip_bomb_rejected_fast_and_bounded_blob_5() -> None:
    bomb = _gzip_bomb_1gib()
    limit = 1 << 20
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        started = time.process_time()  # CPU time: the work done, whatever the machine's load
        with pytest.raises(VirtualDbTooLarge):
            decode(bomb, dec=limit)
        elapsed = time.process_time() - started
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert elapsed < 2.0
    assert peak < limit + 2 * 1024 * 1024


def test_decompressed_limit_exact_boundary_blob_5() -> None:
    data = encode_json(valid_collections())
    text = b64gz(data)
    assert decode(text, dec=len(data))
    with pytest.raises(VirtualDbTooLarge):
        decode(text, dec=len(data) - 1)


# ---- garbage (BLOB-3, BLOB-5, BLOB-6, ACC-V7-1, ACC-V7-2)

def _gz() -> bytes:
    return gzip.compress(encode_json(valid_collections()), mtime=0)


def _flip_crc(data: bytes) -> bytes:
    return data[:-8] + bytes([data[-8] ^ 0xFF]) + data[-7:]


TRANSPORT_CASES = {
    "not_base64": ("not base64!!", "invalid_base64"),
    "not_gzip": (base64.b64encode(b"hello world").decode(), "unrecognised_format"),
    "zstd": (base64.b64encode(b"\x28\xb5\x2f\xfd" + b"\0" * 20).decode(), "unsupported_format"),
    "gzip_of_empty_object": (b64gz(b"{}"), "bad_top_level"),
    "trailing_bytes": (base64.b64encode(_gz() + b"junk").decode(), "trailing_data"),
    # blob v2: a later member must be a delta, not a second snapshot
    "second_member": (base64.b64encode(_gz() + _gz()).decode(), "bad_delta"),
    "truncated": (base64.b64encode(_gz()[:-12]).decode(), "truncated_gzip"),
    "crc_mismatch": (base64.b64encode(_flip_crc(_gz())).decode(), "corrupt_gzip"),
    "not_json": (b64gz(b"{nope"), "invalid_json"),
}


@pytest.mark.parametrize("case", sorted(TRANSPORT_CASES))
def test_transport_garbage_rejected_blob_3_blob_5(case: str) -> None:
    text, why = TRANSPORT_CASES[case]
    with pytest.raises(InvalidVirtualDb) as exc:
        decode(text)
    assert reason(exc) == why
    assert exc.value.http_status == 400


def test_unrecognised_format_message_acc_v7_2() -> None:
    with pytest.raises(InvalidVirtualDb, match="unrecognised blob format"):
        decode(base64.b64encode(b"PK\x03\x04").decode())


def _mutate(fn: Any) -> str:
    j = tree(valid_collections())
    fn(j)
    return blob_of(j)


def _deep(n: int) -> Any:
    value: Any = 1
    for _ in range(n):
        value = [value]
    return value


def _second_run(j: dict[str, Any]) -> None:
    run = dict(j["collections"]["workflow_runs"][0], workflow_run_id="virtual_2")
    branch = dict(j["collections"]["branches"][0], workflow_run_id="virtual_2",
                  branch_id="br_x", lineage=[{"branch_id": "br_x", "cutoff_sequence": None,
                                              "cutoff_event_id": None}])
    run["current_branch_id"] = "br_x"
    j["collections"]["workflow_runs"].append(run)
    j["collections"]["branches"].append(branch)


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def apply(j: dict[str, Any]) -> None:
        target = j["collections"]
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
    return apply


STRUCTURE_CASES: dict[str, tuple[Any, str]] = {
    "duplicated_sequence": (_set(("events", 1, "sequence"), 1), "duplicate_key"),
    "sequence_gap": (_set(("events", 1, "sequence"), 3), "bad_sequences"),
    "too_deep": (_set(("events", 0, "data", "deep"), _deep(120)), "too_deep"),
    "dollar_top_level_key": (_set(("events", 0, "$where"), 1), "dollar_top_level_key"),
    "nul_in_key": (_set(("events", 0, "data", "a\x00b"), 1), "nul_in_key"),
    "two_top_level_runs": (_second_run, "multiple_top_level_runs"),
    "unknown_collection": (_set(("access_keys",), [{"access_key_id": "k"}]), "unknown_collection"),
    "bad_typed_event": (_set(("events", 0, "sequence"), "1"), "bad_document"),
    "date_as_string": (_set(("events", 0, "timestamp"), "2026-01-01T00:00:00.000Z"),
                       "bad_document"),
    "malformed_date": (_set(("events", 0, "timestamp"), {"$date": "yesterday"}), "bad_date"),
    "bad_escape": (_set(("events", 0, "data", "x"), {"$esc": 1}), "bad_escape"),
    "lineage_unknown_branch": (_set(("branches", 0, "lineage", 0, "branch_id"), "br_nope"),
                               "bad_lineage"),
    "missing_current_branch": (_set(("workflow_runs", 0, "current_branch_id"), "br_nope"),
                               "missing_current_branch"),
    "orphan_event": (_set(("events", 1, "workflow_run_id"), "virtual_other"), "orphan_event"),
    "document_not_object": (_set(("events", 1), [1]), "bad_document"),
    "collection_not_array": (_set(("events",), {"a": 1}), "bad_collection"),
    "duplicate_event_id": (_set(("events", 1, "event_id"), "evt_1"), "duplicate_key"),
}


@pytest.mark.parametrize("case", sorted(STRUCTURE_CASES))
def test_structural_validation_blob_6(case: str) -> None:
    fn, why = STRUCTURE_CASES[case]
    with pytest.raises(InvalidVirtualDb) as exc:
        decode(_mutate(fn))
    assert reason(exc) == why


@pytest.mark.parametrize("top", [
    {"format": FORMAT, "version": 2, "collections": {}},
    {"format": "other", "version": 1, "collections": {}},
    {"format": FORMAT, "version": True, "collections": {}},
    {"format": FORMAT, "version": 1, "collections": {}, "extra": 1},
    [1, 2],
])
def test_format_and_version_checked_blob_3(top: Any) -> None:
    with pytest.raises(InvalidVirtualDb):
        decode(blob_of(top))


def test_depth_limit_is_exact_blob_6() -> None:
    # J itself is depth 1, collections 2, the array 3, a document 4, `data` 5.
    ok = _mutate(_set(("events", 0, "data", "deep"), _deep(95)))
    assert decode(ok)["events"][0]["data"]["deep"]
    with pytest.raises(InvalidVirtualDb):
        decode(_mutate(_set(("events", 0, "data", "deep"), _deep(96))))


def test_valid_blob_decodes_typed_blob_6() -> None:
    back = decode(blob_of(tree(valid_collections())))
    assert back["events"][0]["timestamp"] == NOW
    assert back["events"][0]["timestamp"].tzinfo == timezone.utc
    naive = decode(blob_of(tree(valid_collections())), aware=False)
    assert naive["events"][0]["timestamp"] == NOW.replace(tzinfo=None)


def test_virtual_store_adds_virtual_user_once_vs_2() -> None:
    store = VirtualStore.fresh(NOW)
    users = store.export()["users"]
    assert users == [{"user_id": "virtual_user_001", "username": "virtual_user",
                      "email": "virtual@example.com", "is_virtual": True, "created_at": NOW}]
    again = VirtualStore.from_blob(store.to_blob(), LIMITS, NOW + timedelta(days=1))
    assert again.export()["users"] == users
    assert b"password" not in gzip.decompress(base64.b64decode(store.to_blob()))


def test_export_limits_enforced_vs_7() -> None:
    store = VirtualStore.fresh(NOW)
    store.load(valid_collections(), now=NOW)
    with pytest.raises(VirtualDbTooLarge) as exc:
        store.to_blob(limits=BlobLimits(max_encoded_bytes=10, max_decompressed_bytes=BIG))
    assert exc.value.details["limit"] == 10
    with pytest.raises(VirtualDbTooLarge):
        store.to_blob(limits=BlobLimits(max_encoded_bytes=BIG, max_decompressed_bytes=10))


def test_sorting_uses_canonical_json_without_keys_blob_1() -> None:
    docs = [{"workflow_run_id": "r", "n": i, "created_at": NOW} for i in (3, 1, 2)]
    j = msgspec.json.decode(encode_json({"workflow_run_version_history": docs}))
    got = j["collections"]["workflow_run_version_history"]
    assert got == sorted(got, key=canonical_json)


def test_load_with_duplicate_unique_key_is_invalid_st14() -> None:
    cols = valid_collections()
    cols["users"] = [{"user_id": "u1", "username": "a"}, {"user_id": "u2", "username": "a"}]
    with pytest.raises(InvalidVirtualDb) as exc:
        VirtualStore().load(cols, now=NOW)
    assert reason(exc) == "duplicate_key"


def test_escaped_dollar_spellings_decode_like_plain_ones_blob_2() -> None:
    plain = tree(valid_collections())
    plain["collections"]["config"] = [{"type": "t", "name": "n",
                                       "top": {"$esc": {"$date": "user text"}},
                                       "value": {"at": {"$date": "2026-01-01T00:00:00.000Z"}}}]
    text = msgspec.json.encode(plain).replace(b'"$date":"2026', b'"\\u0024date":"2026')
    assert b"\\u0024date" in text
    doc = decode(b64gz(text))["config"][0]
    assert doc["top"] == {"$date": "user text"}
    assert doc["value"]["at"] == datetime(2026, 1, 1, tzinfo=timezone.utc)
    hidden = msgspec.json.encode(plain).replace(b'"type":"t"', b'"\\u0024type":"t"')
    with pytest.raises(InvalidVirtualDb) as exc:
        decode(b64gz(hidden))
    assert reason(exc) == "dollar_top_level_key"
