"""How deeply JSON text nests, measured without parsing it: the one depth check (WIRE-3).

Both servers refuse a too-deep body before any parser sees it, and the virtual store checks the
documents of a blob the same way (BLOB-5). String contents never count; the text does not have
to be valid JSON (the parser that runs afterwards reports what else is wrong).
"""

from __future__ import annotations

import re
from itertools import accumulate

_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_QUOTE_OR_BRACKET = bytes(b for b in range(256) if b not in b'"[]{}')
_ESCAPED_QUOTE_OR_BACKSLASH = re.compile(rb'\\["\\]')
_STEP = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")


def _brackets(raw: bytes) -> bytes:
    return _STRING.sub(b'""', raw).translate(None, _NOT_BRACKETS)


def _brackets_of_valid(raw: bytes) -> bytes:
    """`_brackets` for text known to be valid JSON, without the string regex: escaped
    backslashes and quotes go first, then every other run between quotes is string content.

    Two adjacent quotes are dropped before splitting (most strings hold no bracket, so this
    leaves few quotes to split on): they are either one string with no bracket inside or the
    end of one string and the start of the next with no bracket between, so the quotes that
    remain still alternate between opening and closing a run of string content."""
    if _ESCAPED_QUOTE_OR_BACKSLASH.search(raw) is not None:  # a regex finds neither faster
        if b"\\\\" in raw:  # than two `in` tests (CPython's two-byte search stalls on each
            raw = raw.replace(b"\\\\", b"")  # backslash); a `replace` copies the text even
        if b'\\"' in raw:  # when nothing matches
            raw = raw.replace(b'\\"', b"")
    marks = raw.translate(None, _QUOTE_OR_BRACKET).replace(b'""', b"")
    if b'"' not in marks:
        return marks
    return b"".join(marks.split(b'"')[0::2])


def _deepest(brackets: bytes) -> int:
    if not brackets:
        return 0
    return max(accumulate(b - 1 for b in brackets.translate(_STEP)))


def json_depth(raw: bytes) -> int:
    """The deepest nesting of `[`/`{` in JSON text, iteratively (string contents ignored)."""
    return _deepest(_brackets(raw))


def depth_within(raw: bytes, limit: int, *, parsed: bool = False) -> bool:
    """`json_depth(raw) <= limit`, in C-speed passes for well-formed text: innermost `{}`/`[]`
    pairs are peeled off one level per pass, so text of depth d is empty after exactly d passes;
    anything left after `limit` passes (too deep, or brackets that do not pair) is measured.
    `parsed`: the text already decoded as JSON (a blob document), so strings are found without
    a regex."""
    stripped = _brackets_of_valid(raw) if parsed else _brackets(raw)
    brackets = stripped
    for _ in range(limit):
        if not brackets:
            return True
        brackets = brackets.replace(b"{}", b"\x00").replace(b"[]", b"\x00").replace(b"\x00", b"")
    return not brackets or _deepest(stripped) <= limit
