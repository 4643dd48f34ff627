"""`MemoryExecutor`: a fast `CollectionExecutor` for the virtual database's collections.

Why: the editor calls the virtual server on every edit, and with mongomock a request at 2,000
events spends most of its time copying documents in and out of the database. Here each stored
document is a `Rec` (db/memory_records.py) holding

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

from typing import Any, Iterator

from db import memory_query as mq
from db.indexes import VIRTUAL_COLLECTIONS
from db.memory_lookups import Lookups
from db.memory_records import Rec, decode_raw, encode_raw
from db.memory_unique import Collection, UniqueIndex
from db.memory_updates import apply_update, upsert_base
from db.mongomock_executor import MongomockExecutor
from db.pipeline_eval import MongomockPipelineEvaluator
from engine.errors import ConcurrentModification

Doc = dict[str, Any]
Sort = list[tuple[str, int]]
_KEYED_FAST = frozenset(VIRTUAL_COLLECTIONS)


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
        self._colls: dict[str, Collection] = {}
        self._other: MongomockExecutor | None = None
        self.writes = 0
        # True while indexing a freshly validated blob: its keys are known unique (BLOB-6).
        self._loading = False
        #: loaded records a write replaced or deleted since loading, in order, with whether a
        #: replacement took the record's place under the same key (the blob v2 delta export)
        self.removed: list[tuple[str, Rec, bool]] = []
        #: a fork of a frozen executor shares its collections until it writes one; these are
        #: the ones it copied (None: every collection is its own)
        self._owned: set[str] | None = None

    # ---- plumbing

    def _coll(self, name: str) -> Collection:
        coll = self._colls.get(name)
        if coll is None:
            coll = self._colls[name] = Collection(name)
        return coll

    def _wcoll(self, name: str) -> Collection:
        """The collection for a write: a fork copies a shared one first (copy-on-write)."""
        if self._owned is not None and name not in self._owned:
            self._owned.add(name)
            shared = self._colls.get(name)
            if shared is not None:
                own = self._colls[name] = Collection(name)
                own.recs = list(shared.recs)
                # layered on the shared collection's (built there first, for every fork)
                own.uniques = [unique.layer(shared.recs) for unique in shared.uniques]
                own.lookups = shared.lookups.fork()
                own.written = []
                return own
        return self._coll(name)

    def _delegate(self, name: str) -> MongomockExecutor | None:
        if name in VIRTUAL_COLLECTIONS:
            return None
        if self._other is None:
            self._other = MongomockExecutor.fresh("virtual_tables")
        return self._other

    def _match(self, coll: Collection, flt: Doc) -> list[Rec]:
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

    def _new_rec(self, coll: Collection, doc: Doc) -> Rec:
        if not all(isinstance(k, str) for k in doc):
            raise ValueError("Document keys must be strings")
        clean = {k: v for k, v in doc.items() if k != "_id"}
        return Rec(coll.name, clean, encode_raw(clean), None)

    # ---- loading (virtual store only)

    def loading_validated(self, on: bool) -> None:
        """While on, indexes are created without re-checking keys BLOB-6 already checked."""
        self._loading = on

    def load_decoded(self, name: str, docs: list[Doc], raws: list[bytes],
                     stood_in: bool = False) -> None:
        """Adopt documents decoded from a blob with their exact JSON (before indexes exist);
        `stood_in`: the documents are stand-ins (db/blob_shallow.py), never handed out."""
        coll = self._coll(name)
        make = Rec.stood_in if stood_in else Rec.loaded
        coll.recs.extend([make(name, doc, raw) for doc, raw in zip(docs, raws)])
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
            copied = twin._colls[name] = Collection(name)
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
        new = self._colls[coll] = Collection(coll)
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

    def _replace(self, coll: Collection, rec: Rec, new: Doc) -> Rec:
        fresh = Rec(coll.name, new, encode_raw(new), None)
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

    def _update(self, coll_name: str, flt: Doc, update: Doc, upsert: bool) -> tuple[Rec | None, Doc | None]:
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
        index = UniqueIndex(fields, sparse)
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

    def _output(self, rec: Rec, projection: Doc | None) -> Doc:
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

    def fresh_records(self, coll: str) -> list[Rec]:
        """The collection's records written since loading, in store order (the blob v2 delta).

        A fork holds none in a collection it never wrote (those are its frozen source's, all
        counted as loaded), and in one it copied only at the positions it wrote: a warm
        request's export looks at what it wrote, not at every record of a long history."""
        found = self._colls.get(coll)
        if found is None:
            return []
        if self._owned is not None:
            if coll not in self._owned:
                return []
            if found.written is not None:
                recs = found.recs
                return [recs[pos] for pos in sorted(set(found.written)) if recs[pos].fresh]
        return [rec for rec in found.recs if rec.fresh]
