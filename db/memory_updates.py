"""Updates of `MemoryExecutor` (db/memory_executor.py): the `$set`/`$setOnInsert`/`$inc`/`$unset`
shapes of db/queries.py applied to a document copy, as mongomock applies them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from db import memory_query as mq

Doc = dict[str, Any]


def _plain_copy(value: Any) -> Any:
    """A private copy of a caller's value for an update (datetimes normalised)."""
    if isinstance(value, dict):
        return {k: _plain_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_copy(v) for v in value]
    if isinstance(value, datetime):
        return mq.utc(value)
    return value


def apply_update(doc: Doc, update: Doc, inserting: bool) -> Doc:
    """`$set`, `$setOnInsert`, `$inc`, `$unset` on top-level fields (the shapes of queries.py)."""
    new = dict(doc)
    for op, fields in update.items():
        if not isinstance(fields, dict):
            raise ValueError(f"update operator {op} needs an object")
        if any("." in k or k.startswith("$") or k == "_id" for k in fields):
            raise ValueError(f"unsupported update path in {op}")
        if op == "$set" or (op == "$setOnInsert" and inserting):
            for key, value in fields.items():
                new[key] = _plain_copy(value)
        elif op == "$setOnInsert":
            continue
        elif op == "$inc":
            for key, amount in fields.items():
                current = new.get(key, 0)
                if isinstance(amount, bool) or not isinstance(amount, (int, float)) \
                        or isinstance(current, bool) or not isinstance(current, (int, float)):
                    raise ValueError("$inc needs numbers")
                new[key] = current + amount
        elif op == "$unset":
            for key in fields:
                new.pop(key, None)
        else:
            raise ValueError(f"unsupported update operator {op}")
    return new


def upsert_base(flt: Doc) -> Doc:
    """Equality fields of the filter, in order, as mongomock seeds an upserted document."""
    return {k: _plain_copy(v) for k, v in flt.items()
            if not k.startswith("$") and "." not in k
            and not (isinstance(v, dict) and any(str(x).startswith("$") for x in v))}
