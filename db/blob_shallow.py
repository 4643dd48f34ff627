"""Stand-in documents for collections whose big nested field no respond reads in full.

A respond looks up one `interaction_answers` document by its unique key, yet the answers are a
quarter of a long blob's JSON (each keeps the outcome it answered with). The splicing decoder
(db/blob_splice.py) builds every document as dicts only to check it (BLOB-5/6) and skeleton it
(db/memory_records.py); the record then decodes its exact JSON when a reader asks. Here the
kept field of each document is skipped by msgspec (still checked as JSON) and an empty object
stands in for it: the typed check asks only "an object or null" of it (`AnswerDoc.outcome`),
the unique keys and the skeleton never look inside it, and the tag and depth checks run on the
exact bytes as before. What msgspec's skip does not check (UTF-8 inside strings, numbers out of
a float's range) is made sure of with two cheap passes over the collection's bytes; anything
else (non-ASCII text, an exponent or a long digit run anywhere) gets None, and the caller
parses the collection in full, so acceptance and errors never change.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

Doc = dict[str, Any]

#: the collection's field a respond never reads in full, which an empty object may stand in for
#: (its typed check must accept any object; no unique key or extracted path may lie under it)
KEPT_FIELD: dict[str, str] = {"interaction_answers": "outcome"}

_SHALLOW = msgspec.json.Decoder(list[dict[str, msgspec.Raw]])
_DOCS = msgspec.json.Decoder(list[dict[str, Any]])
_ENCODER = msgspec.json.Encoder()
_EMPTY = msgspec.Raw(b"{}")
#: digits to `0`, `E` to `e`, other letters and `_` to `x`: a number with an exponent then reads
#: `0e` after a delimiter, and reversed, `e0` followed by digits and then a delimiter, a
#: decimal point or a sign (hex text in ids reads `e0` followed by more `0`s and then a letter)
_CLASSES = bytes.maketrans(
    b"123456789E" + b"abcdfghijklmnopqrstuvwxyzABCDFGHIJKLMNOPQRSTUVWXYZ_",
    b"000000000e" + b"x" * 51)
_EXPONENT_REVERSED = re.compile(rb"e0+[.\-+:,\[\s]")
#: a run of digits this long may spell a float past its range (1.8e308 has 309 digits)
_LONG_DIGITS = b"0" * 300


def _skip_was_enough(kept: bytes) -> bool:
    """Whether the full parse of the kept fields' text could refuse nothing msgspec's skip
    accepted (in ASCII text, where no UTF-8 needs checking): no number with an exponent or a long digit
    run (every number fits a float; the others are exactly what the skip checks)."""
    classes = kept.translate(_CLASSES)
    return _LONG_DIGITS not in classes and _EXPONENT_REVERSED.search(classes[::-1]) is None


def stand_ins(name: str, array: bytes) -> list[Doc] | None:
    """The collection's documents with each object-valued kept field replaced by `{}`, from
    one skip and one parse of what is left; None: not a collection with a kept field, or not
    provably the same acceptance, and the caller parses it in full. Raises msgspec.DecodeError
    for text that is not an array of objects, as the full parse would.

    The array must be exactly what msgspec writes for the skipped documents (our encoder wrote
    it): then no key appeared twice, so no value was skipped and dropped unchecked."""
    field = KEPT_FIELD.get(name)
    if field is None or not array.isascii():
        return None
    shallow = _SHALLOW.decode(array)
    if _ENCODER.encode(shallow) != array:
        return None
    kept: list[bytes] = []
    for doc in shallow:
        value = doc.get(field)
        if value is not None:
            data = bytes(value)
            if data[:1] == b"{":
                kept.append(data)
                doc[field] = _EMPTY
    if not _skip_was_enough(b",".join(kept)):
        return None
    docs: list[Doc] = _DOCS.decode(_ENCODER.encode(shallow))
    return docs
