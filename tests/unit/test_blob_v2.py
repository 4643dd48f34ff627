"""Blob v2 (db/blob_members.py): a v1 snapshot plus appended delta members, every limit kept.

Both decoders (db/blob.py's document-by-document one and the splicing one the fast store uses)
must accept and reject the same v2 blobs with the same reasons, merge deltas the same way, and
enforce the limits over the blob as a whole: inflated bytes over all members, the number of
members, documents per collection and depth inside a delta.
"""

from __future__ import annotations

import base64
import gzip
import time
import zlib
from typing import Any

import msgspec
import pytest

from db.blob import MAX_MEMBERS, BlobLimits, blob_json, decode_with_raw, encode_json
from db.blob_members import append_member, delta_json, gzip_member
from db.fast_store import FastVirtualStore
from engine.errors import InvalidVirtualDb, VirtualDbTooLarge
from tests.unit.test_blob import BIG, NOW, decode, valid_collections

LIMITS = BlobLimits(max_encoded_bytes=BIG, max_decompressed_bytes=BIG)
RUN = "virtual_" + "a" * 32
BRANCH = "br_" + "1" * 32


def _event(i: int, **data: Any) -> bytes:
    doc = {"event_id": f"evt_{i}", "workflow_run_id": RUN, "branch_id": BRANCH, "sequence": i,
           "workflow_version_id": "ver_1", "event_type": "step_started",
           "timestamp": {"$date": "2026-03-04T05:06:07.089Z"}, "provenance": "mock",
           "step_id": "s", "module_name": None, "data": data or {"step_index": i}}
    return msgspec.json.encode(doc)


def _base() -> bytes:
    return gzip.compress(encode_json(valid_collections()), mtime=0)


def _member(collections: dict[str, list[bytes]] | None = None,
            deleted: dict[str, list[list[Any]]] | None = None) -> bytes:
    return gzip.compress(delta_json(collections or {}, deleted or {}), mtime=0)


def _text(*members: bytes) -> str:
    return base64.b64encode(b"".join(members)).decode()


def _both(text: str, **limits: int) -> tuple[Any, Any]:
    """Each decoder's outcome: ("ok", collections) or (error type, reason)."""
    enc, dec = limits.get("enc", BIG), limits.get("dec", BIG)
    outcomes = []
    for run in (lambda: decode(text, enc=enc, dec=dec),
                lambda: decode_with_raw(text, BlobLimits(max_encoded_bytes=enc,
                                                         max_decompressed_bytes=dec))[0]):
        try:
            outcomes.append(("ok", run()))
        except (InvalidVirtualDb, VirtualDbTooLarge) as exc:
            outcomes.append((type(exc).__name__, exc.details.get("reason")))
    return outcomes[0], outcomes[1]


def test_deltas_append_replace_and_delete() -> None:
    text = _text(_base(), _member({"events": [_event(3)]}),
                 _member({"events": [_event(2, changed=True)]}), _member({"events": [_event(4)]}))
    slow, fast = _both(text)
    assert slow[0] == fast[0] == "ok"
    events = fast[1]["events"]
    assert [e["sequence"] for e in events] == [1, 2, 3, 4]  # replaced in place, new appended
    assert events[1]["data"] == {"changed": True}
    assert slow[1] == fast[1]
    _docs, base_raws, _shape = decode_with_raw(_text(_base()), LIMITS)
    _docs, _raws, shape = decode_with_raw(text, LIMITS)
    assert shape.members == 4 and shape.dead_bytes == len(base_raws["events"][1])
    # deleting the last event keeps the sequences contiguous
    text = _text(_base(), _member({"events": [_event(3)]}), _member(deleted={"events": [[RUN, 3]]}))
    slow, fast = _both(text)
    assert slow == fast and [e["sequence"] for e in fast[1]["events"]] == [1, 2]


def test_merged_blob_must_still_be_valid() -> None:
    """Checks run on the merged collections: a delta leaving a gap in sequences fails BLOB-6."""
    text = _text(_base(), _member({"events": [_event(5)]}))
    assert _both(text) == (("InvalidVirtualDb", "bad_sequences"),) * 2
    text = _text(_base(), _member(deleted={"events": [[RUN, 1]]}))
    assert _both(text) == (("InvalidVirtualDb", "bad_sequences"),) * 2


BAD_DELTAS = {
    "snapshot_as_delta": (_text(_base(), _base()), "bad_delta"),
    "unknown_collection": (_text(_base(), _member({"secrets": [b"{}"]})), "unknown_collection"),
    "delete_missing": (_text(_base(), _member(deleted={"events": [[RUN, 9]]})), "bad_delta"),
    "delete_wrong_key": (_text(_base(), _member(deleted={"events": [[RUN]]})), "bad_delta"),
    "delete_keyless": (_text(_base(), _member(deleted={"tokens": [["x"]]})), "bad_delta"),
    "not_json": (_text(_base(), gzip.compress(b"{nope", mtime=0)), "invalid_json"),
    "extra_field": (_text(_base(), gzip.compress(
        b'{"format":"workflow-engine-virtual-db","version":2,"collections":{},"x":1}',
        mtime=0)), "bad_delta"),
    "wrong_version": (_text(_base(), gzip.compress(
        b'{"format":"workflow-engine-virtual-db","version":3,"collections":{}}', mtime=0)),
        "bad_delta"),
    "dollar_key": (_text(_base(), _member({"events": [_event(3)[:-1] + b',"$x":1}']})),
                   "dollar_top_level_key"),
    "garbage_after_member": (_text(_base(), _member(), b"junk"), "trailing_data"),
    "truncated_member": (_text(_base(), _member()[:-5]), "truncated_gzip"),
}


@pytest.mark.parametrize("case", sorted(BAD_DELTAS))
def test_bad_deltas_rejected_alike(case: str) -> None:
    text, why = BAD_DELTAS[case]
    assert _both(text) == (("InvalidVirtualDb", why),) * 2


def test_too_many_tiny_members() -> None:
    empty = _member()
    assert _both(_text(_base(), *[empty] * (MAX_MEMBERS - 1)))[1][0] == "ok"
    many = _text(_base(), *[empty] * MAX_MEMBERS)
    assert _both(many) == (("InvalidVirtualDb", "too_many_members"),) * 2


def test_member_bomb_rejected_fast() -> None:
    """A small valid snapshot followed by a member inflating to 256 MiB of zeros: the limit
    counts all members together and stops inflating as soon as it is passed."""
    z = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = bytes(1 << 20)
    bomb = b"".join(z.compress(chunk) for _ in range(256)) + z.flush()
    base = _base()
    inflated_base = len(encode_json(valid_collections()))
    started = time.process_time()
    slow, fast = _both(_text(base, bomb), dec=inflated_base + (1 << 20))
    assert slow == fast == ("VirtualDbTooLarge", None)
    assert time.process_time() - started < 2.0


def test_total_inflated_limit_counts_every_member() -> None:
    member = _member({"events": [_event(3)]})
    text = _text(_base(), member)
    total = len(encode_json(valid_collections())) + len(zlib.decompress(member, 31))
    assert _both(text, dec=total)[1][0] == "ok"
    assert _both(text, dec=total - 1) == (("VirtualDbTooLarge", None),) * 2
    assert _both(text, enc=len(text) - 1) == (("VirtualDbTooLarge", None),) * 2


def test_depth_limit_inside_a_delta() -> None:
    deep: Any = 1
    for _ in range(120):
        deep = [deep]
    text = _text(_base(), _member({"events": [_event(3)[:-1] + b',"x":' + msgspec.json.encode(deep)
                                              + b"}"]}))
    assert _both(text) == (("InvalidVirtualDb", "too_deep"),) * 2


def test_document_count_limit_after_merging(monkeypatch: pytest.MonkeyPatch) -> None:
    import db.blob_members as members
    monkeypatch.setattr(members, "MAX_DOCUMENTS", 3)
    assert _both(_text(_base(), _member({"events": [_event(3)]})))[1][0] == "ok"
    over = _text(_base(), _member({"events": [_event(3)]}), _member({"events": [_event(4)]}))
    assert _both(over)[1] == ("InvalidVirtualDb", "too_many_documents")


def test_append_member_keeps_base64_whole() -> None:
    for extra in (b"", b"x", b"xy", b"xyz"):  # every padding of the first part
        base = _base() + extra
        text = base64.b64encode(base).decode()
        member = gzip_member(b"hello", 4)
        assert base64.b64decode(append_member(text, member)) == base + member


def test_typed_round_trip_of_a_v2_blob() -> None:
    """A v2 blob loads into the same store as its merged v1 form; exporting either writes the
    same one-member blob (BLOB-7 through v2)."""
    text = _text(_base(), _member({"events": [_event(3)]}),
                 _member({"events": [_event(2, changed=True)]}))
    merged = base64.b64encode(gzip.compress(blob_json(text), mtime=0)).decode()
    v2 = FastVirtualStore.from_blob(text, LIMITS, NOW)
    v1 = FastVirtualStore.from_blob(merged, LIMITS, NOW)
    assert v2.export() == v1.export()
    assert v2.to_blob() == v1.to_blob()
    again = FastVirtualStore.from_blob(v2.to_blob(), LIMITS, NOW)
    assert again.to_blob() == v2.to_blob()


def test_members_larger_than_an_inflate_step() -> None:
    """Members whose output passes an inflate step (256 KiB) and that end mid-slice: what
    follows each is read once, whatever the output limit left over (a real bug: a member was
    read twice when a step ended at its last block)."""
    import os

    from db.blob_decode import b64_chunks, inflate

    rng_parts = [os.urandom(3000).hex().encode() * n for n in (1, 50, 400, 3, 200)]
    raw = b"".join(gzip_member(part, 4) for part in rng_parts)
    text = base64.b64encode(raw).decode()
    assert inflate(b64_chunks(text), BIG, MAX_MEMBERS) == rng_parts
    assert inflate([raw], BIG, MAX_MEMBERS) == rng_parts
