"""`decode_request` (virtual_server/jobs.py): decode first, depth after, the errors of
scan-then-decode (WIRE-3, VS-3) whatever the order in which the two checks run."""

from __future__ import annotations

import msgspec
import pytest

from engine import VirtualReadRequest, json_depth
from virtual_server.errors import ApiError
from virtual_server.jobs import decode_request

LIMIT = 8


def _deep(depth: int, *, valid_field: bool = True) -> bytes:
    """A read body whose `extra` (an unknown field) nests `depth - 1` levels; the body is
    `depth` deep. `valid_field=False` also gives `virtual_db` the wrong type."""
    blob = b'"x"' if valid_field else b"5"
    return (b'{"virtual_db": ' + blob + b', "extra": ' + b"[" * (depth - 1) + b'"[{"'
            + b"]" * (depth - 1) + b"}")


def _error(raw: bytes) -> ApiError:
    with pytest.raises(ApiError) as caught:
        decode_request(raw, VirtualReadRequest, LIMIT)
    return caught.value


def test_a_body_at_the_limit_decodes_and_one_past_it_is_refused_as_too_deep() -> None:
    assert json_depth(_deep(LIMIT)) == LIMIT
    assert isinstance(decode_request(_deep(LIMIT), VirtualReadRequest, LIMIT), VirtualReadRequest)
    error = _error(_deep(LIMIT + 1))  # valid for msgspec: refused by the depth check after it
    assert (error.status, error.error_type, error.details) == (400, "bad_request",
                                                               {"max_depth": LIMIT})


def test_too_deep_wins_over_a_type_error_and_malformed_json_as_when_scanned_first() -> None:
    for raw in (_deep(LIMIT + 1, valid_field=False), _deep(LIMIT + 1)[:-1],
                b"[" * 100_000 + b"]" * 100_000):  # the last one past msgspec's recursion limit
        assert _error(raw).details == {"max_depth": LIMIT}, raw[:40]


def test_shallow_bad_bodies_keep_their_decode_errors() -> None:
    mistyped = _error(_deep(2, valid_field=False))
    assert mistyped.message == "Invalid request body"
    assert mistyped.details is not None and "Expected `str`" in mistyped.details["errors"][0]
    malformed = _error(_deep(2)[:-1])
    assert malformed.message == "Malformed JSON body"
    with pytest.raises(msgspec.DecodeError):
        msgspec.json.decode(_deep(2)[:-1])
