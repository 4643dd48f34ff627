"""`MemoryExecutor`: a fast `CollectionExecutor` for the virtual database's collections.

Why: the editor calls the virtual server on every edit, and with mongomock a request at 2,000
events spends most of its time copying documents in and out of the database. Here each stored
document is a `_Rec` holding

- `raw`: its exact blob JSON (BLOB-1/2 form) — the input blob's bytes for loaded documents, our
  own encoding for written ones — so export splices bytes instead of re-encoding;
- `skel`: its top-level scalar fields (plus extracted nested paths), enough to match, sort and
  project every query shape of db/queries.py without decoding;
- `cached`: the decoded document from the blob, handed to the *first* reader (nobody else ever
  saw it, so no copy is needed); later readers get a fresh decode of `raw`.

The guarantees of db/executor.py hold: results never carry `_id`, datetimes are aware UTC with
milliseconds, duplicate keys raise `ConcurrentModification`, and every returned document is the
caller's own. Collections outside the blob's allowed set (user tables of `db.query`, scratch
collections) are delegated to a mongomock executor, and aggregation always runs on mongomock.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterator

import msgspec

from db import memory_query as mq
from db.blob import encode_document
from db.blob_splice import decode_trusted
from db.indexes import VIRTUAL_COLLECTIONS
from db.memory_lookups import Lookups
from db.memory_updates import apply_update, upsert_base
from db.mongomock_executor import MongomockExecutor
from db.pipeline_eval import MongomockPipelineEvaluator
from engine.errors import ConcurrentModification

Doc = dict[str, Any]
Sort = list[tuple[str, int]]
_ENCODER = msgspec.json.Encoder()
_UTC = timezone.utc
# Nested paths copied into the skeleton so the hot queries never decode (ST-9 / §18.1 lookups).
EXTRACTED: dict[str, tuple[str, ...]] = {"events": ("data.interaction_id",)}
_KEYED_FAST = frozenset(VIRTUAL_COLLECTIONS)


def encode_raw(doc: Doc) -> bytes:
    """The blob JSON of one document (same bytes as db.blob's encoder)."""
    return _ENCODER.encode(encode_document(doc, True))


def decode_raw(raw: bytes) -> Doc:
    """A record's document: its JSON was checked when loaded or written by our encoder."""
    return decode_trusted(raw)


class _Rec:
    """Never changed once made except `cached` (a write makes a new record). `fresh`: written
    since the blob was loaded. `shared`: held by a cached store (db/fast_store.py) and read by
    any number of requests, so it never keeps a decoded copy: every reader decodes its own."""

    __slots__ = ("cached", "fresh", "nested", "raw", "shared", "skel")

    def __init__(self, coll: str, doc: Doc, raw: bytes, cached: Doc | None,
                 fresh: bool = True) -> None:
        self.raw = raw
        self.cached = cached
        self.fresh = fresh
        self.shared = False
        self.skel, self.nested = _skeleton(coll, doc)

    def shared_copy(self) -> "_Rec":
        """The same document as a loaded, shared record (itself when it is one already)."""
        if self.shared:
            return self
        rec = _Rec.__new__(_Rec)
        rec.raw, rec.skel, rec.nested = self.raw, self.skel, self.nested
        rec.cached = None
        rec.fresh = False
        rec.shared = True
        return rec

    def full(self) -> Doc:
        """The document for internal use (matching); kept as the private cached copy."""
        if self.cached is None:
            if self.shared:
                return decode_raw(self.raw)
            self.cached = decode_raw(self.raw)
        return self.cached

    def take(self) -> Doc:
        """A document the caller may keep and mutate."""
        doc = self.cached
        if doc is not None:
            self.cached = None
            return doc
        return decode_raw(self.raw)


_SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})


_EXTRACTED_PARTS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    coll: tuple((path, tuple(path.split("."))) for path in paths)
    for coll, paths in EXTRACTED.items()}
#: one frozenset per distinct set of nested field names (records of one collection mostly share
#: theirs), so a loaded blob does not hold thousands of equal sets; bounded against odd blobs
_NESTED: dict[tuple[str, ...], frozenset[str]] = {}
_NESTED_MAX = 4096


def _nested_set(names: list[str]) -> frozenset[str]:
    key = tuple(names)
    found = _NESTED.get(key)
    if found is None:
        found = frozenset(names)
        if len(_NESTED) < _NESTED_MAX:
            _NESTED[key] = found
    return found


def _skeleton(coll: str, doc: Doc) -> tuple[Doc, frozenset[str]]:
    skel: Doc = {}
    nested: list[str] = []
    for key, value in doc.items():
        t = type(value)
        if t in _SCALAR_TYPES:
            skel[key] = value
        elif t is datetime:
            if value.tzinfo is not _UTC or value.microsecond % 1000:
                value = mq.utc(value)
            skel[key] = value
        elif key != "_id":
            if mq.is_scalar(value):  # subclasses of the scalar types
                skel[key] = mq.utc(value) if isinstance(value, datetime) else value
            else:
                nested.append(key)
    for path, parts in _EXTRACTED_PARTS.get(coll, ()):
        found: Any = doc
        for part in parts:
            found = found.get(part, mq.MISSING) if isinstance(found, dict) else mq.MISSING
        if found is mq.MISSING or mq.is_scalar(found):
            skel[path] = found
    skel.pop("_id", None)
    return skel, _nested_set(nested)


def _key_part(value: Any) -> Any:
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


#: layers a fork's unique index may stack on its source's before it is flattened
MAX_LAYERS = 8


class _Unique:
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
        self._base: _Unique | None = None
        #: keys of the base this layer removed
        self._gone: set[Any] = set()
        self._depth = 0

    def key(self, rec: _Rec) -> Any:
        """The record's key (None: not indexed, a sparse index without the fields); a one-field
        key is its part itself unless missing, so the common key is no tuple at all."""
        skel = rec.skel
        fields = self.fields
        if len(fields) == 1:
            field = fields[0]
            part = _key_part(skel[field] if field in skel else mq.field_value(rec, field))
            if part is None:
                return None if self.sparse else (None,)
            return part
        key = tuple([_key_part(skel[f] if f in skel else mq.field_value(rec, f))
                     for f in fields])
        if self.sparse and all(k is None for k in key):
            return None
        return key

    def copy(self) -> "_Unique":
        """An independent, flat copy."""
        twin = _Unique(self.fields, self.sparse)
        twin._keys = None if self._keys is None else self._all()
        return twin

    def layer(self, recs: list[_Rec]) -> "_Unique":
        """A copy for a fork of a collection that never changes again (`recs`): a new layer
        on top of this one (built over `recs` first), or a flat copy every `MAX_LAYERS`."""
        self._built(recs)
        if self._depth >= MAX_LAYERS:
            return self.copy()
        twin = _Unique(self.fields, self.sparse)
        twin._keys, twin._base, twin._depth = set(), self, self._depth + 1
        return twin

    def _all(self) -> set[Any]:
        own = self._keys if self._keys is not None else set()
        if self._base is None:
            return set(own)
        return (self._base._all() - self._gone) | own

    def _built(self, recs: list[_Rec]) -> set[Any]:
        if self._keys is None:
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

    def validate(self, recs: list[_Rec]) -> None:
        """Build the index over `recs`; a duplicate key raises `ConcurrentModification`."""
        self._built(recs)

    def contains(self, recs: list[_Rec], key: Any) -> bool:
        self._built(recs)
        layer: _Unique | None = self
        while layer is not None:
            assert layer._keys is not None  # layers stack on built indexes only
            if key in layer._keys:
                return True
            if key in layer._gone:
                return False
            layer = layer._base
        return False

    def add(self, recs: list[_Rec], key: Any) -> None:
        """Add a key `contains` just said is absent (or this layer just removed)."""
        self._built(recs).add(key)

    def discard(self, recs: list[_Rec], key: Any) -> None:
        own = self._built(recs)
        if key in own:
            own.discard(key)
        elif self._base is not None:
            self._gone.add(key)


class _Coll:
    def __init__(self, name: str) -> None:
        self.name = name
        self.recs: list[_Rec] = []
        self.uniques: list[_Unique] = []
        #: what spares the hot reads a scan (db/memory_lookups.py), each built on first use
        self.lookups = Lookups(name)
        #: in a fork's copy, the positions written since (every other record is shared, so a
        #: final freeze only looks at these); None: unknown, look at every record
        self.written: list[int] | None = None

    def appended(self, rec: _Rec, keys: list[Any]) -> None:
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

    def check(self, rec: _Rec, ignore: _Rec | None = None) -> list[Any]:
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

    def drop_keys(self, rec: _Rec) -> None:
        for unique in self.uniques:
            key = unique.key(rec)
            if key is not None:
                unique.discard(self.recs, key)


def _one_clause_or(flt: Doc) -> Doc:
    """`{a: x, "$or": [{b: y}]}` as `{a: x, b: y}` (the lineage of a run that never forked), so
    the plain-filter test can take it; any other filter unchanged."""
    clauses = flt.get("$or")
    if type(clauses) is not list or len(clauses) != 1 or type(clauses[0]) is not dict:
        return flt
    merged = {k: v for k, v in flt.items() if k != "$or"}
    if any(k in merged for k in clauses[0]):
        return flt
    merged.update(clauses[0])
    return merged


class MemoryExecutor:
    """Executes db/queries.py shapes in memory; see the module docstring."""

    def __init__(self) -> None:
        self._colls: dict[str, _Coll] = {}
        self._other: MongomockExecutor | None = None
        self.writes = 0
        # True while indexing a freshly validated blob: its keys are known unique (BLOB-6).
        self._loading = False
        #: loaded records a write replaced or deleted since loading, in order, with whether a
        #: replacement took the record's place under the same key (the blob v2 delta export)
        self.removed: list[tuple[str, _Rec, bool]] = []
        #: a fork of a frozen executor shares its collections until it writes one; these are
        #: the ones it copied (None: every collection is its own)
        self._owned: set[str] | None = None

    # ---- plumbing

    def _coll(self, name: str) -> _Coll:
        coll = self._colls.get(name)
        if coll is None:
            coll = self._colls[name] = _Coll(name)
        return coll

    def _wcoll(self, name: str) -> _Coll:
        """The collection for a write: a fork copies a shared one first (copy-on-write)."""
        if self._owned is not None and name not in self._owned:
            self._owned.add(name)
            shared = self._colls.get(name)
            if shared is not None:
                own = self._colls[name] = _Coll(name)
                own.recs = list(shared.recs)
                # layered on the shared collection's (built there first, for every fork)
                own.uniques = [unique.layer(shared.recs) for unique in shared.uniques]
                own.lookups = shared.lookups.copy()
                own.written = []
                return own
        return self._coll(name)

    def _delegate(self, name: str) -> MongomockExecutor | None:
        if name in VIRTUAL_COLLECTIONS:
            return None
        if self._other is None:
            self._other = MongomockExecutor.fresh("virtual_tables")
        return self._other

    def _match(self, coll: _Coll, flt: Doc) -> list[_Rec]:
        if not flt:
            return list(coll.recs)
        flt = _one_clause_or(flt)
        recs = coll.recs
        found = coll.lookups.positions(recs, flt, [u.fields for u in coll.uniques])
        if found is not None:
            return [recs[pos] for pos in found]
        test = mq.compile_filter(flt)
        fast = mq.plain_test(flt, test)
        return [rec for rec in coll.recs if (fast or test)(rec)]

    def _new_rec(self, coll: _Coll, doc: Doc) -> _Rec:
        if not all(isinstance(k, str) for k in doc):
            raise ValueError("Document keys must be strings")
        clean = {k: v for k, v in doc.items() if k != "_id"}
        return _Rec(coll.name, clean, encode_raw(clean), None)

    # ---- loading (virtual store only)

    def loading_validated(self, on: bool) -> None:
        """While on, indexes are created without re-checking keys BLOB-6 already checked."""
        self._loading = on

    def load_decoded(self, name: str, docs: list[Doc], raws: list[bytes]) -> None:
        """Adopt documents decoded from a blob with their exact JSON (before indexes exist)."""
        coll = self._coll(name)
        coll.recs.extend(_Rec(name, doc, raw, doc, False) for doc, raw in zip(docs, raws))
        coll.lookups = Lookups(name)

    def record_count(self) -> int:
        return sum(len(coll.recs) for coll in self._colls.values())

    def frozen(self, final: bool = False) -> "MemoryExecutor":
        """A copy to keep unchanged and `fork` from: the same virtual collections, every record
        shared and counted as loaded. Collections this executor still shares with its own source
        are shared again; the others are copied (records made shared, unique-key sets copied),
        so writing this executor afterwards never reaches the copy. `final`: this executor is
        never used again, so its own collections are taken over rather than copied. Delegated
        collections are not copied (they are never in a blob)."""
        twin = MemoryExecutor()
        for name, coll in self._colls.items():
            if self._owned is not None and name not in self._owned:
                twin._colls[name] = coll
                continue
            if final:
                coll.share_all()
                twin._colls[name] = coll
                continue
            copied = twin._colls[name] = _Coll(name)
            copied.recs = [rec.shared_copy() for rec in coll.recs]
            copied.uniques = [unique.copy() for unique in coll.uniques]
            copied.lookups = coll.lookups.copy()
        return twin

    def share_in_place(self) -> None:
        """Make every record a shared one without copying it (`frozen` copies): for an executor
        nobody else has seen yet whose forks are done, about to be kept as it is."""
        for coll in self._colls.values():
            for rec in coll.recs:
                rec.cached = None
                rec.shared = True

    def fork(self) -> "MemoryExecutor":
        """An executor over the same collections that copies one only when it first writes it
        (self must be `frozen`, i.e. never written again): O(collections), not O(documents)."""
        twin = MemoryExecutor()
        twin._colls = dict(self._colls)
        twin._owned = set()
        return twin

    def reorder(self, coll: str, recs: list[Any]) -> None:
        """Put a frozen collection's records in the given order (a permutation of them)."""
        old = self._colls[coll]
        new = self._colls[coll] = _Coll(coll)
        new.recs = list(recs)
        new.uniques = [unique.copy() for unique in old.uniques]

    # ---- writes

    def insert_one(self, coll: str, doc: Doc) -> None:
        other = self._delegate(coll)
        if other is not None:
            other.insert_one(coll, doc)
            self.writes += 1
            return
        target = self._wcoll(coll)
        rec = self._new_rec(target, doc)
        keys = target.check(rec)
        target.recs.append(rec)
        target.appended(rec, keys)
        self.writes += 1

    def insert_many(self, coll: str, docs: list[Doc]) -> None:
        for doc in docs:
            self.insert_one(coll, doc)

    def _replace(self, coll: _Coll, rec: _Rec, new: Doc) -> _Rec:
        fresh = _Rec(coll.name, new, encode_raw(new), None)
        keys = coll.check(fresh, ignore=rec)
        coll.drop_keys(rec)
        pos = coll.recs.index(rec)
        coll.recs[pos] = fresh
        coll.add_keys(keys)
        coll.lookups.replaced(rec, fresh, pos)
        if coll.written is not None:
            coll.written.append(pos)
        if not rec.fresh:
            self.removed.append((coll.name, rec, True))
        return fresh

    def _update(self, coll_name: str, flt: Doc, update: Doc, upsert: bool) -> tuple[_Rec | None, Doc | None]:
        """Apply to the first match (or upsert); returns (record after, document before)."""
        coll = self._wcoll(coll_name)
        found = self._match(coll, flt)
        if found:
            rec = found[0]
            before = rec.full()
            new = apply_update(before, update, False)
            if new == before:
                return rec, before
            self.writes += 1
            return self._replace(coll, rec, new), before
        if not upsert:
            return None, None
        new = apply_update(upsert_base(flt), update, True)
        rec = self._new_rec(coll, new)
        keys = coll.check(rec)
        coll.recs.append(rec)
        coll.appended(rec, keys)
        self.writes += 1
        return rec, None

    def update_one(self, coll: str, filter: Doc, update: Doc, *, upsert: bool = False) -> None:
        other = self._delegate(coll)
        if other is not None:
            other.update_one(coll, filter, update, upsert=upsert)
            self.writes += 1
            return
        self._update(coll, filter, update, upsert)

    def find_one_and_update(self, coll: str, filter: Doc, update: Doc, *, upsert: bool = False,
                            return_after: bool = True, projection: Doc | None = None) -> Doc | None:
        other = self._delegate(coll)
        if other is not None:
            self.writes += 1
            return other.find_one_and_update(coll, filter, update, upsert=upsert,
                                             return_after=return_after, projection=projection)
        rec, before = self._update(coll, filter, update, upsert)
        if not return_after:
            return None if before is None else self._project(decode_raw(encode_raw(before)),
                                                            projection)
        return None if rec is None else self._output(rec, projection)

    def delete_many(self, coll: str, filter: Doc) -> int:
        other = self._delegate(coll)
        if other is not None:
            deleted = other.delete_many(coll, filter)
            self.writes += 1 if deleted else 0
            return deleted
        gone = self._match(self._coll(coll), filter)
        if gone:
            target = self._wcoll(coll)
            ids = {id(r) for r in gone}
            for rec in gone:
                target.drop_keys(rec)
                if not rec.fresh:
                    self.removed.append((coll, rec, False))
            target.recs = [r for r in target.recs if id(r) not in ids]
            target.lookups = Lookups(coll)
            target.written = None
            self.writes += 1
        return len(gone)

    def create_index(self, coll: str, keys: Sort, *, unique: bool = False, sparse: bool = False,
                     expire_after_seconds: int | None = None, name: str | None = None) -> None:
        other = self._delegate(coll)
        if other is not None:
            other.create_index(coll, keys, unique=unique, sparse=sparse,
                               expire_after_seconds=expire_after_seconds, name=name)
            return
        if not unique:
            return
        target = self._wcoll(coll)
        fields = tuple(f for f, _ in keys)
        if any(u.fields == fields for u in target.uniques):
            return
        index = _Unique(fields, sparse)
        if target.recs and not self._loading:
            try:
                index.validate(target.recs)
            except ConcurrentModification:
                raise ConcurrentModification(f"duplicate key in {coll}",
                                             details={"collection": coll}) from None
        target.uniques.append(index)

    # ---- reads

    def _project(self, doc: Doc, projection: Doc | None) -> Doc:
        shape = mq.projection_fields(projection)
        if shape is None:
            raise ValueError("unsupported projection")
        kind, fields = shape
        if kind == "include":
            return {k: v for k, v in doc.items() if k in fields}
        if kind == "exclude":
            return {k: v for k, v in doc.items() if k not in fields}
        return doc

    def _output(self, rec: _Rec, projection: Doc | None) -> Doc:
        shape = mq.projection_fields(projection)
        if shape is not None and shape[0] == "include" and not (shape[1] & rec.nested):
            return {k: v for k, v in rec.skel.items()
                    if k in shape[1] and v is not mq.MISSING}
        return self._project(rec.take(), projection)

    def find(self, coll: str, filter: Doc, *, projection: Doc | None = None,
             sort: Sort | None = None, skip: int = 0, limit: int = 0) -> list[Doc]:
        other = self._delegate(coll)
        if other is not None:
            return other.find(coll, filter, projection=projection, sort=sort, skip=skip,
                              limit=limit)
        if mq.projection_fields(projection) is None:
            raise ValueError("unsupported projection")
        found = self._match(self._coll(coll), filter)
        if sort:
            found = mq.sort_records(found, sort)
        if skip:
            found = found[skip:]
        if limit:
            found = found[:limit]
        return [self._output(rec, projection) for rec in found]

    def find_one(self, coll: str, filter: Doc, *, projection: Doc | None = None,
                 sort: Sort | None = None) -> Doc | None:
        found = self.find(coll, filter, projection=projection, sort=sort, limit=1)
        return found[0] if found else None

    def count_documents(self, coll: str, filter: Doc) -> int:
        other = self._delegate(coll)
        if other is not None:
            return other.count_documents(coll, filter)
        return len(self._match(self._coll(coll), filter))

    def aggregate(self, coll: str, pipeline: list[Doc]) -> list[Doc]:
        other = self._delegate(coll)
        if other is not None:
            return other.aggregate(coll, pipeline)
        docs = [decode_raw(rec.raw) for rec in self._coll(coll).recs]
        return MongomockPipelineEvaluator().aggregate(docs, pipeline)

    # ---- export (virtual store only)

    def collection_names(self) -> list[str]:
        return [name for name, coll in self._colls.items() if coll.recs]

    def records(self, coll: str) -> Iterator[tuple[Doc, bytes]]:
        """(skeleton, raw JSON) of every stored document, for the blob export."""
        for rec in self._coll(coll).recs:
            yield rec.skel, rec.raw

    def raw_bytes(self, coll: str, filter: Doc) -> int:
        """The blob JSON size of the documents matching `filter` (no decoding, no encoding)."""
        return sum(len(rec.raw) for rec in self._match(self._coll(coll), filter))

    def record_list(self, coll: str) -> list[Any]:
        """The collection's records in store order (read `skel`, `raw`, `fresh`; never change)."""
        return self._coll(coll).recs
