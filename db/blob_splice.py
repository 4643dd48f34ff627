"""The splicing decoder: `decode_blob` that also keeps each document's exact JSON.

The fast virtual store (db/fast_store.py) exports by splicing the JSON of documents a request
did not touch back into the blob, so decoding keeps those bytes. Acceptance and errors are
exactly `decode_blob`'s: the same steps (db/blob_decode.py) run, the per-document checks once
per collection where that is provably enough, document by document otherwise.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timezone
from itertools import chain
from typing import Any

import msgspec

from db.blob_checks import DATETIME_FIELDS, validate_collections
from db.blob_decode import (
    DOC_DECODER,
    FORMAT,
    GZIP_MAGIC,
    MAX_DOCUMENTS,
    MAX_MEMBERS,
    VERSION,
    ZSTD_MAGIC,
    BlobLimits,
    TagDecoder,
    b64_chunks,
    inflate,
    invalid,
    top_level,
)
from db.blob_members import merge, parse_documents
from db.blob_shallow import KEPT_FIELD, stand_ins
from db.indexes import VIRTUAL_COLLECTIONS
from engine.errors import InvalidVirtualDb, VirtualDbTooLarge
from engine.json_depth import depth_within

Doc = dict[str, Any]


class _Top(msgspec.Struct, forbid_unknown_fields=True):
    format: str
    version: int
    collections: dict[str, msgspec.Raw]


_TOP = msgspec.json.Decoder(_Top)


def _split(data: bytes) -> dict[str, Any]:
    """Collections as raw arrays: one typed pass for a well-formed blob, else db.blob's
    step-by-step parse, which raises the precise `invalid_virtual_db` reason."""
    try:
        top = _TOP.decode(data)
    except (msgspec.DecodeError, RecursionError):
        top = None
    if top is not None and top.format == FORMAT and top.version == VERSION \
            and all(name in VIRTUAL_COLLECTIONS for name in top.collections):
        return top.collections
    return top_level(data)


def _top_tags(doc: Doc) -> int:
    tags = 0
    for key, value in doc.items():
        if key[:1] == "$":
            raise invalid("dollar_top_level_key",
                          "virtual_db document field names may not start with $")
        if type(value) is dict and len(value) == 1 and ("$date" in value or "$esc" in value):
            tags += 1
    return tags


def _finish(doc: Doc, data: bytes, decoder: TagDecoder, tags: int) -> Doc:
    """db.blob's per-document rule on an already parsed document (the careful path)."""
    if (data.count(b'"$') != tags or b"\\u" in data
            or data.count(b"{") + data.count(b"[") > decoder.max_depth - 3):
        return decoder.document(doc)
    return _dates(doc, decoder)


#: the end of a tag key (`"$date"`, `"$esc"`), found from its rare `$` (a regex finds it in
#: half the time of two counts of the whole key); it matches every tag key, and more
_TAG_KEY = re.compile(rb'\$(?:date|esc)"')


def _tag_keys(data: bytes) -> int:
    """Occurrences of the two tag keys, counted from above: when they are all top-level tags,
    nothing nested needs the tag walk (other `$` names, e.g. in stored pipelines, are plain
    data, ST-4)."""
    return len(_TAG_KEY.findall(data))


def _finish_simple(doc: Doc, data: bytes, decoder: TagDecoder) -> Doc:
    """The whole text has no nested tags and no escapes: only depth and top-level `$date`s."""
    budget = decoder.max_depth - 3
    if data.count(b"{") + data.count(b"[") > budget and not depth_within(data, budget, parsed=True):
        return decoder.document(doc)  # raises too_deep exactly as db.blob does
    return _dates(doc, decoder)


#: a `\u` escape: a regex search finds it three times faster than `in` in text full of other
#: backslash escapes (CPython's two-byte substring search stalls on each backslash)
_ESCAPE_U = re.compile(rb"\\u")


def has_u_escape(data: bytes) -> bool:
    return _ESCAPE_U.search(data) is not None


#: every byte but `{` and `[`: deleting them counts the openers in one pass (not two counts)
_NOT_OPENERS = bytes(b for b in range(256) if b not in b"{[")
_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")
_UTC = timezone.utc


def _date(text: Any, decoder: TagDecoder) -> datetime:
    """`decoder.date` for the canonical text form, without its round-trip check: with ASCII
    digits in exactly these places, a successful parse is the round trip. Anything else (and
    any parse failure) goes through db.blob's own check, which raises where it raises."""
    if type(text) is str and _DATE_TEXT.fullmatch(text):
        try:  # the `Z` gives `timezone.utc` itself, as `replace(tzinfo=...)` did, 4× faster
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    return decoder.date(text)


def _dates(doc: Doc, decoder: TagDecoder) -> Doc:
    for key, value in doc.items():
        if type(value) is dict and len(value) == 1 and "$date" in value:
            doc[key] = _date(value["$date"], decoder)
    return doc


_TRUSTED = TagDecoder(1_000_000, True)


def decode_trusted(raw: bytes) -> Doc:
    """One document's JSON from a store record back to a document, for JSON that passed BLOB-6
    already (or that our encoder wrote): no depth or `$`-key checks, and the tag walk only
    when a nested tag or an escape (which could spell one) is there; else only top-level
    `$date`s are converted, without walking the document."""
    doc: Doc = DOC_DECODER.decode(raw)
    tags = 0
    for value in doc.values():
        if type(value) is dict and len(value) == 1 and ("$date" in value or "$esc" in value):
            tags += 1
    if _tag_keys(raw) != tags or has_u_escape(raw):
        return _TRUSTED.document(doc)
    return _dates(doc, _TRUSTED)


_DOC_LIST = msgspec.json.Decoder(list[dict[str, Any]])


def _top_level_tags(docs: list[Doc]) -> list[tuple[Doc, str]] | None:
    """Every top-level tag (`$date` or `$esc`) of the documents as (document, key), or None
    when a top-level key starts with `$` (the step-by-step path raises that)."""
    found: list[tuple[Doc, str]] = []
    for doc in docs:
        for key, value in doc.items():
            if key[:1] == "$":
                return None
            if type(value) is dict and len(value) == 1 and ("$date" in value or "$esc" in value):
                found.append((doc, key))
    return found


def _dollar_key(docs: list[Doc]) -> bool:
    """Whether a top-level key may start with `$`, in one join of every key (C speed); a key
    holding NUL may say yes wrongly, which only sends the collection the careful way."""
    return "\x00$" in "\x00" + "\x00".join(chain.from_iterable(docs))


class _Split(msgspec.Struct, forbid_unknown_fields=True):
    format: str
    version: int
    collections: dict[str, list[msgspec.Raw]]


#: the blob split down to each document's JSON in one pass (not the collections first and then
#: each collection again)
_SPLIT = msgspec.json.Decoder(_Split)


def _array(exact: list[bytes]) -> bytes:
    """The documents as one compact JSON array, in one copy (the brackets ride on the first and
    the last document): the same documents and bytes as the blob's array but for whitespace
    between documents, which no check counts."""
    if len(exact) < 2:
        return b"[" + b"".join(exact) + b"]"
    return b",".join([b"[" + exact[0], *exact[1:-1], exact[-1] + b"]"])


def _collection(name: str, exact: list[bytes], decoder: TagDecoder,
                shallow: bool = False) -> tuple[list[Doc], list[bytes]] | None:
    """One collection's documents in C-speed passes (parse, byte counts); None: the
    step-by-step path decides. A typed collection's date fields are its expected tags. Each
    spells one `$`, so as many `$` in the array as expected tags means there is nothing else:
    no nested tag, no other top-level tag, no top-level key starting with `$`. Other `$` (in
    stored pipelines, in text) are fine when the tag keys are just the expected tags and no
    top-level key starts with `$`; otherwise each document's top-level keys are looked at
    (db.blob's per-document rule, made once per collection). Every tag taken must then be a
    `$date` of a date field, or the collection goes the careful way. `shallow`: stand-ins
    (db/blob_shallow.py) for the documents, where the expected tags must be all the `$`."""
    if len(exact) > MAX_DOCUMENTS:
        return None
    array = _array(exact)
    try:  # ValidationError is a DecodeError: not all objects
        found_docs = stand_ins(name, array) if shallow else _DOC_LIST.decode(array)
    except (msgspec.DecodeError, RecursionError):
        return None
    if found_docs is None:
        return None
    docs: list[Doc] = found_docs
    dates = [(doc, field) for field in DATETIME_FIELDS.get(name, ()) for doc in docs
             if type(doc.get(field)) is dict]
    if array.count(b"$") != len(dates):  # a one-byte count: several times a `"$` one
        if shallow:
            return None
        tag_keys = _tag_keys(array)
        if tag_keys != len(dates) or _dollar_key(docs):
            found = _top_level_tags(docs)
            if found is None or tag_keys != len(found):
                return None
            dates = found
    budget = decoder.max_depth - 3
    for item in exact:
        if len(item) > budget and len(item.translate(None, _NOT_OPENERS)) > budget \
                and not depth_within(item, budget, parsed=True):
            return None
    try:
        for doc, key in dates:
            value = doc[key]
            if len(value) != 1 or "$date" not in value:
                return None
            doc[key] = _date(value["$date"], decoder)
    except InvalidVirtualDb:
        return None
    return docs, exact


def _quick(data: bytes, decoder: TagDecoder, shallow: bool = False) -> tuple[
        dict[str, list[Doc]], dict[str, list[bytes]], frozenset[str]] | None:
    """A well-formed one-member blob in as few passes as the checks allow: the escape test once
    over the whole text, the blob split into documents in one pass, then each collection parsed
    and tag-checked at C speed (`_collection`). None: anything else (malformed, over a limit,
    nested tags, escapes, too deep, a bad date) takes the step-by-step path, which finds the
    precise error; so what this returns is exactly what that path returns. `shallow`: the collections of
    db/blob_shallow.py `KEPT_FIELD` come as stand-ins where they can, named in the set returned
    (every other collection, and each of those where they cannot, parsed in full)."""
    try:  # not an object of arrays of JSON values, or too deep for msgspec
        top = _SPLIT.decode(data)
    except (msgspec.DecodeError, RecursionError):
        return None
    if top.format != FORMAT or top.version != VERSION or has_u_escape(data):
        return None
    docs: dict[str, list[Doc]] = {}
    raws: dict[str, list[bytes]] = {}
    stood_in: set[str] = set()
    for name, items in top.collections.items():
        if name not in VIRTUAL_COLLECTIONS:
            return None
        exact = [bytes(item) for item in items]
        done = None
        if shallow and name in KEPT_FIELD:
            done = _collection(name, exact, decoder, shallow=True)
            if done is not None:
                stood_in.add(name)
        if done is None:
            done = _collection(name, exact, decoder)
        if done is None:
            return None
        docs[name], raws[name] = done
    return docs, raws, frozenset(stood_in)


class BlobShape(msgspec.Struct, frozen=True):
    """What blob v2's export needs to know of a decoded blob (db/blob_members.py)."""

    members: int = 1
    inflated_bytes: int = 0
    dead_bytes: int = 0


def decode_with_raw(text: str | bytes, limits: BlobLimits) -> tuple[
        dict[str, list[Doc]], dict[str, list[bytes]], BlobShape]:
    """`db.blob.decode_blob` (same acceptance, same errors) that also keeps each document's JSON
    and the blob's shape (members, inflated and dead bytes); see `decode_for_store`."""
    docs, raws, shape, _stood_in = decode_for_store(text, limits, shallow=False)
    return docs, raws, shape


def decode_for_store(text: str | bytes, limits: BlobLimits, shallow: bool = True) -> tuple[
        dict[str, list[Doc]], dict[str, list[bytes]], BlobShape, frozenset[str]]:
    """`decode_with_raw` for loading a store: the collections named in the set returned hold
    stand-ins (db/blob_shallow.py), documents checked as the full ones would be but to be
    decoded from their JSON when read, never handed out themselves.

    The nested-tag and escape checks db.blob makes per document are made once per collection;
    only the documents of a collection that fails one take db.blob's per-document route. Depth
    is measured exactly (not estimated from a bracket count) for large documents, and a document
    over the limit goes through db.blob's walk, which raises where it raises.
    """
    if len(text) > limits.max_encoded_bytes:
        raise VirtualDbTooLarge("virtual_db exceeds the encoded size limit",
                                details={"encoded_bytes": len(text),
                                         "limit": limits.max_encoded_bytes})
    chunks = b64_chunks(text)
    head = next(chunks, b"")
    if head[:2] == GZIP_MAGIC:
        members = inflate(itertools.chain((head,), chunks), limits.max_decompressed_bytes,
                          MAX_MEMBERS)
    elif head[:4] == ZSTD_MAGIC:
        raise invalid("unsupported_format", "unsupported blob format (zstd is reserved)")
    else:
        raise invalid("unrecognised_format", "unrecognised blob format")
    if limits.max_depth < 4:
        raise invalid("too_deep", "virtual_db JSON is nested too deeply")
    decoder = TagDecoder(limits.max_depth, True)
    quick = _quick(members[0], decoder, shallow) if len(members) == 1 else None
    if quick is not None:
        validate_collections(quick[0])
        return quick[0], quick[1], BlobShape(members=1, inflated_bytes=len(members[0])), quick[2]
    arrays = _split(members[0])
    dead = 0
    merged: dict[str, tuple[list[bytes], list[Doc]]] = {}
    if len(members) > 1:  # a v1 blob is checked collection by collection, as db.blob does
        base = {name: parse_documents(name, array) for name, array in arrays.items()}
        colls, dead = merge(members, base)
        merged = {name: coll.documents() for name, coll in colls.items()}
    docs: dict[str, list[Doc]] = {}
    raws: dict[str, list[bytes]] = {}
    for name in merged or arrays:
        exact, parsed = merged[name] if merged else parse_documents(name, arrays[name])
        raws[name] = exact
        tags = [_top_tags(doc) for doc in parsed]
        array = arrays.get(name)
        whole = memoryview(array).tobytes() if len(members) == 1 and array is not None \
            else b",".join(exact)
        total = sum(tags)
        if (whole.count(b'"$') == total or _tag_keys(whole) == total) and not has_u_escape(whole):
            docs[name] = [_finish_simple(doc, item, decoder) for doc, item in zip(parsed, exact)]
        else:
            docs[name] = [_finish(doc, item, decoder, t) for doc, item, t in zip(parsed, exact, tags)]
    validate_collections(docs)
    shape = BlobShape(members=len(members), inflated_bytes=sum(len(m) for m in members),
                      dead_bytes=dead)
    return docs, raws, shape, frozenset()
