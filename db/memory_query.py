"""Filter, sort and projection evaluation for `MemoryExecutor` (storage.md ST-15 operators).

Filters are compiled once per call into closures over a record's *skeleton* (its top-level
scalar fields plus a few extracted nested paths, e.g. `data.interaction_id` of events), which is
what every query shape of db/queries.py touches, so matching never decodes a document. Anything
outside the fast subset — an unknown operator, a condition on an array or sub-document, a
dotted path not in the skeleton — is delegated to mongomock's own `filter_applies` on the full
document, so semantics stay mongomock's wherever ours are not provably the same.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Callable, Protocol

from mongomock.filtering import filter_applies

from engine.jsonutil import canonical_json

Doc = dict[str, Any]
Sort = list[tuple[str, int]]
MISSING = object()
_UTC = timezone.utc
_SCALARS = (str, int, float, bool, type(None), datetime)
_NUMBERS = (int, float)
_COMPARE = {"$lte": lambda a, b: a <= b, "$lt": lambda a, b: a < b,
            "$gte": lambda a, b: a >= b, "$gt": lambda a, b: a > b}


class Record(Protocol):
    skel: Doc
    nested: frozenset[str]

    def full(self) -> Doc: ...


Matcher = Callable[[Record], bool]


def utc(value: datetime) -> datetime:
    """Aware UTC truncated to milliseconds: the one datetime form stored (ST-3)."""
    value = value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)
    return value.replace(microsecond=value.microsecond - value.microsecond % 1000)


def is_scalar(value: Any) -> bool:
    return isinstance(value, _SCALARS)


def _norm(value: Any) -> Any:
    return utc(value) if isinstance(value, datetime) else value


def _same_class(a: Any, b: Any) -> bool:
    """BSON comparison brackets: numbers together, bool apart from numbers (unlike Python)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool)
    if isinstance(a, _NUMBERS) and isinstance(b, _NUMBERS):
        return True
    return type(a) is type(b)


def _eq(stored: Any, wanted: Any) -> bool:
    if wanted is None:
        return stored is MISSING or stored is None
    return stored is not MISSING and _same_class(stored, wanted) and stored == wanted


Pred = Callable[[Any], bool]


def _is_in(values: list[Any]) -> Pred:
    return lambda v: any(_eq(v, w) for w in values)


def _negated(test: Pred) -> Pred:
    return lambda v: not test(v)


def _not_equal(wanted: Any) -> Pred:
    return lambda v: not _eq(v, wanted)


def _compared(wanted: Any, cmp: Callable[[Any, Any], bool]) -> Pred:
    return lambda v: v is not MISSING and v is not None and _same_class(v, wanted) and cmp(v, wanted)


def _exists(want: Any) -> Pred:
    return lambda v: (v is not MISSING) == bool(want)


def _any_of(tests: list[Matcher]) -> Matcher:
    return lambda r: any(t(r) for t in tests)


def _all_of(tests: list[Matcher]) -> Matcher:
    return lambda r: all(t(r) for t in tests)


def _fast_condition(cond: Any) -> Callable[[Any], bool] | None:
    """A predicate on a scalar field value for the ST-15 operators, or None (use mongomock)."""
    if is_scalar(cond):
        wanted = _norm(cond)
        return lambda v: _eq(v, wanted)
    if not isinstance(cond, dict) or not cond or not all(k.startswith("$") for k in cond):
        return None
    parts: list[Callable[[Any], bool]] = []
    for op, arg in cond.items():
        if op in ("$in", "$nin"):
            if not isinstance(arg, list) or not all(is_scalar(a) for a in arg):
                return None
            test = _is_in([_norm(a) for a in arg])
            parts.append(test if op == "$in" else _negated(test))
        elif op == "$ne":
            if not is_scalar(arg):
                return None
            parts.append(_not_equal(_norm(arg)))
        elif op in _COMPARE:
            if not is_scalar(arg) or arg is None:
                return None
            parts.append(_compared(_norm(arg), _COMPARE[op]))
        elif op == "$exists":
            parts.append(_exists(arg))
        else:
            return None
    return lambda v: all(p(v) for p in parts)


def compile_filter(flt: Doc) -> Matcher:
    """A matcher for `flt`; falls back to mongomock per condition when it must."""
    if not isinstance(flt, dict):
        raise TypeError("filter must be a dict")
    tests: list[Matcher] = []
    for key, cond in flt.items():
        if key in ("$or", "$and") and isinstance(cond, list) and cond \
                and all(isinstance(c, dict) for c in cond):
            subs = [compile_filter(c) for c in cond]
            tests.append(_any_of(subs) if key == "$or" else _all_of(subs))
        elif key.startswith("$"):
            tests.append(_slow({key: cond}))
        else:
            fast = _fast_condition(cond)
            tests.append(_slow({key: cond}) if fast is None else _field_test(key, fast, cond))
    if len(tests) == 1:
        return tests[0]
    return lambda r: all(t(r) for t in tests)


def _field_test(path: str, fast: Callable[[Any], bool], cond: Any) -> Matcher:
    slow = _slow({path: cond})

    def test(record: Record) -> bool:
        skel = record.skel
        if path in skel:
            return fast(skel[path])
        if path in record.nested or "." in path:
            return slow(record)  # an array/sub-document or an unextracted dotted path
        return fast(MISSING)

    return test


def _slow(flt: Doc) -> Matcher:
    return lambda record: bool(filter_applies(flt, record.full()))


# ---- sorting (BSON order across types: null < numbers < strings < objects < arrays < bool < date)

def _rank(value: Any) -> tuple[int, Any]:
    if value is MISSING or value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (5, value)
    if isinstance(value, _NUMBERS):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    if isinstance(value, datetime):
        return (6, value)
    if isinstance(value, dict):
        return (3, canonical_json(value))
    if isinstance(value, list):
        return (4, canonical_json(value))
    return (7, repr(value))


def field_value(record: Record, path: str) -> Any:
    skel = record.skel
    if path in skel:
        return skel[path]
    if path in record.nested or "." in path:
        value: Any = record.full()
        for part in path.split("."):
            if not isinstance(value, dict) or part not in value:
                return MISSING
            value = value[part]
        return value
    return MISSING


def _sort_key(path: str) -> Callable[[Any], Any]:
    return lambda r: _rank(field_value(r, path))


def sort_records(records: list[Any], sort: Sort) -> list[Any]:
    """Stable multi-key sort, last key first, each ascending or descending."""
    out = list(records)
    for path, direction in reversed(sort):
        out.sort(key=_sort_key(path), reverse=direction < 0)
    return out


# ---- projections

def projection_fields(projection: Doc | None) -> tuple[str, set[str]] | None:
    """('all'|'include'|'exclude', fields) for top-level projections, None if unsupported."""
    if not projection:
        return ("all", set())
    spec = {k: v for k, v in projection.items() if k != "_id"}
    if not spec:
        return ("all", set())
    if any("." in k or k.startswith("$") for k in spec):
        return None
    values = {bool(v) for v in spec.values()}
    if len(values) != 1:
        return None
    return ("include" if values.pop() else "exclude", set(spec))


def plain_test(flt: Doc, slow: Any) -> Any:
    """The hot filter shapes (top-level string equalities, at most one `$gte` on an integer,
    e.g. a run's events from a sequence on) as a direct test of the skeleton; a record whose
    value is not a plain str/int there takes the general test. None: another shape."""
    eqs: list[tuple[str, str]] = []
    gte: tuple[str, int] | None = None
    for key, value in flt.items():
        if "." in key or key[:1] == "$":
            return None
        if type(value) is str:
            eqs.append((key, value))
        elif type(value) is dict and len(value) == 1 and type(value.get("$gte")) is int \
                and gte is None:
            gte = (key, value["$gte"])
        else:
            return None

    def test(rec: Any) -> bool:
        skel = rec.skel
        for key, want in eqs:
            got = skel.get(key)
            if type(got) is not str:
                return bool(slow(rec))
            if got != want:
                return False
        if gte is not None:
            got = skel.get(gte[0])
            if type(got) is not int:
                return bool(slow(rec))
            return bool(got >= gte[1])
        return True
    return test
