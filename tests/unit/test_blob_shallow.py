"""Stand-in answers (db/blob_shallow.py): a store loads `interaction_answers` checked through
documents whose `outcome` object is skipped, and decodes each answer's JSON when read.

Every blob here must load exactly as db/blob.py's step-by-step decoder decodes it: the same
documents out of the store, or the same error type, reason and message; and the stand-in path
is taken only where its checks prove it may (otherwise the collection is parsed in full).
Some edits are made on the JSON text, for what Python's json module cannot write (numbers out
of a float's range, invalid UTF-8, a key given twice).
"""

from __future__ import annotations

import copy
import json
from typing import Any, Callable

import pytest

from db.blob import BlobLimits, compress, decode_blob
from db.blob_splice import decode_for_store
from db.fast_store import FastVirtualStore
from engine.errors import EngineError
from tests.conftest import T0
from tests.unit.test_blob_quick_typed import real_blob

LIMITS = BlobLimits()
DATE = {"$date": "2026-01-01T00:00:00.000Z"}
Top = dict[str, Any]
Edit = Callable[[Top], None]
RAW: dict[str, str] = {}  # placeholder string -> the raw JSON text that replaces it


def _raw(text: str) -> str:
    token = f"__raw{len(RAW)}__"
    RAW[token] = text
    return token


@pytest.fixture(scope="module")
def base(cuddle_workflow: dict[str, Any]) -> Top:
    """A real run's blob as its JSON object, with several answers."""
    top = real_blob(cuddle_workflow)
    assert len(top["collections"]["interaction_answers"]) >= 2
    assert all(type(a.get("outcome")) is dict for a in top["collections"]["interaction_answers"])
    return top


def _answer(edit: Callable[[dict[str, Any]], None], index: int = 0) -> Edit:
    def apply(top: Top) -> None:
        edit(top["collections"]["interaction_answers"][index])
    return apply


def _outcome_value(value: Any) -> Edit:
    return _answer(lambda a: a["outcome"].update(v=value))


def _deep(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"k": [value]}
    return value


def _same_keys(top: Top) -> None:
    first, second = top["collections"]["interaction_answers"][:2]
    for key in ("workflow_run_id", "interaction_id", "branch_id"):
        second[key] = first[key]


#: edits the stand-ins take (an accepted blob's answers load through them)
SHALLOW: dict[str, Edit] = {
    "unchanged": lambda top: None,
    "outcome null": _answer(lambda a: a.update(outcome=None)),
    "outcome a list": _answer(lambda a: a.update(outcome=[1, 2])),
    "outcome text": _answer(lambda a: a.update(outcome="x")),
    "unknown top-level object": _answer(lambda a: a.update(extra={"a": {"b": [1]}})),
    "missing field": _answer(lambda a: a.pop("response_hash")),
    "created_at as text": _answer(lambda a: a.update(created_at=DATE["$date"])),
    "bad type beside outcome": _answer(lambda a: a.update(branch_id={"a": 1})),
    "duplicate unique key": _same_keys,
    "too deep outcome": _outcome_value(_deep(60)),
    "exponent-like id": _answer(lambda a: a.update(response_hash="sha256:1e400")),
    "hex in the outcome": _outcome_value("ab12e345"),
}
#: edits the stand-ins must leave to the full parse (which accepts or refuses them)
FULL: dict[str, Edit] = {
    "nested date": _outcome_value(DATE),
    "nested escape": _outcome_value({"$esc": {"$date": 1}}),
    "outcome a top-level tag": _answer(lambda a: a.update(outcome=DATE)),
    "exponent": _outcome_value(_raw("1.5e3")),
    "negative exponent": _outcome_value(_raw("-2E-3")),
    "float overflow": _outcome_value(_raw("1e400")),
    "overflow in a list": _outcome_value(_raw("[0, 1.5E+309]")),
    "long digits": _outcome_value(_raw("1" + "0" * 400 + ".5")),
    "exponent-like text (taken for one)": _outcome_value("version 37e9"),
    "non-ASCII text": _outcome_value("caf\u00e9"),
    "invalid UTF-8": _outcome_value(_raw('"\udcff"')),
    "u escape": _outcome_value(_raw('"\\u0041"')),
    "key given twice, hiding an overflow": _answer(lambda a: a.update(zz=_raw('1e400,"zz":1'))),
    "outcome given twice": _answer(lambda a: a.update(zz=_raw('{"a":1},"outcome":null'))),
    "spaced JSON": lambda top: None,
}


def _text(top: Top, spaced: bool = False) -> bytes:
    """The blob's JSON, each `_raw` placeholder replaced by its text (a lone surrogate in it
    becomes that byte: invalid UTF-8)."""
    data = json.dumps(top, separators=(", ", ": ") if spaced else (",", ":"), ensure_ascii=False)
    for token, text in RAW.items():
        data = data.replace(f'"{token}"', text)
    return data.encode("utf-8", "surrogateescape")


def _load(text: str) -> Any:
    try:
        _docs, _raws, _shape, stood_in = decode_for_store(text, LIMITS)
        store = FastVirtualStore.from_blob(text, LIMITS, T0)
    except EngineError as exc:
        return (exc.error_type, exc.details.get("reason"), str(exc))
    exported = store.export()
    exported.pop("users", None)
    return ("ok", exported, stood_in)


def _reference(text: str) -> Any:
    try:
        docs = decode_blob(text, max_encoded_bytes=LIMITS.max_encoded_bytes,
                           max_decompressed_bytes=LIMITS.max_decompressed_bytes)
    except EngineError as exc:
        return (exc.error_type, exc.details.get("reason"), str(exc))
    docs.pop("users", None)
    return ("ok", docs)


@pytest.mark.parametrize("case", sorted({**SHALLOW, **FULL}))
def test_a_store_loads_stand_in_answers_as_db_blob_decodes(base: Top, case: str) -> None:
    """[BLOB-5][BLOB-6] Same documents out of the store (each answer decoded from its JSON),
    or the same error; stand-ins only where their checks prove them exact."""
    top = copy.deepcopy(base)
    {**SHALLOW, **FULL}[case](top)
    raw = _text(top, spaced=case == "spaced JSON")
    text = compress(raw)
    loaded, reference = _load(text), _reference(text)
    if reference[0] != "ok":
        assert loaded == reference
    else:
        assert loaded[:2] == reference
    if loaded[0] == "ok":
        assert ("interaction_answers" in loaded[2]) == (case in SHALLOW)


def test_refusals_on_the_stand_in_path_are_the_full_parse_s(base: Top) -> None:
    """The refused SHALLOW cases are refused with the reference's reason (not merely some
    error), and the accepted ones really do hold stand-ins."""
    reasons = {}
    for case in ("missing field", "duplicate unique key", "too deep outcome", "outcome a list"):
        top = copy.deepcopy(base)
        SHALLOW[case](top)
        reasons[case] = _reference(compress(_text(top)))[1]
    assert reasons == {"missing field": "bad_document", "duplicate unique key": "duplicate_key",
                       "too deep outcome": "too_deep", "outcome a list": "bad_document"}
    docs, _raws, _shape, stood_in = decode_for_store(compress(_text(base)), LIMITS)
    assert stood_in == {"interaction_answers"}
    assert all(doc["outcome"] == {} for doc in docs["interaction_answers"])


def test_a_stand_in_record_is_decoded_for_its_reader(base: Top) -> None:
    """The store never hands out a stand-in: each read of an answer decodes its JSON, and a
    reader's changes to what it got never reach another reader."""
    text = compress(_text(base))
    store = FastVirtualStore.from_blob(text, LIMITS, T0)
    recs = store.executor.record_list("interaction_answers")
    assert recs and all(rec.cached is None for rec in recs)
    first = store.executor.find("interaction_answers", {})
    expected = _reference(text)[1]["interaction_answers"]
    assert first == expected and first[0]["outcome"]
    first[0]["outcome"]["changed"] = True
    assert store.executor.find("interaction_answers", {}) == expected
