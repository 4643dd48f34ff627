"""The size budget of generated mock data (modules.md §5): what a schema may demand.

A schema is user input (the editor's mock-data request, a workflow's form or output schema), and
`{"type": "string", "minLength": 1000000000}` must be refused before a gigabyte is built. One
`MockBudget` is shared by every value of one request (all `count` values, every form row and
field), charges the estimated JSON bytes and the number of values generated, and refuses a
demand (`minLength`, `minItems`, nesting) that cannot fit before generating it.
"""

from __future__ import annotations

from typing import Any

import msgspec

DEFAULT_MAX_BYTES = 2_097_152
MAX_NODES = 200_000
MAX_NESTING = 64
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


class MockSchemaError(ValueError):
    """The schema cannot be turned into mock data; `reason` is for people, `details` for tools."""

    error_type = "bad_request"

    def __init__(self, reason: str, **details: Any) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details


class MockBudgetExceeded(MockSchemaError):
    """The schema demands more data than the budget allows."""

    error_type = "mock_data_too_large"


class MockBudget:
    """Bytes (estimated JSON) and values left for one request's mock data."""

    __slots__ = ("_sizes", "bytes_left", "max_bytes", "nesting", "nodes_left")

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES, max_nodes: int = MAX_NODES) -> None:
        self.max_bytes = max_bytes
        self.bytes_left = max_bytes
        self.nodes_left = max_nodes
        self.nesting = 0
        self._sizes: dict[int, tuple[Any, int]] = {}

    def node(self) -> None:
        self.nodes_left -= 1
        if self.nodes_left < 0:
            raise MockBudgetExceeded("mock data would exceed " + str(MAX_NODES) + " values",
                                     limit=MAX_NODES, unit="values")

    def charge(self, nbytes: int) -> None:
        self.bytes_left -= nbytes
        if self.bytes_left < 0:
            raise MockBudgetExceeded("mock data would exceed the budget of " + str(self.max_bytes)
                                     + " bytes", limit=self.max_bytes, unit="bytes")

    def demand_bytes(self, keyword: str, requested: int) -> None:
        """Refuse a keyword that alone asks for more bytes than are left (before building)."""
        if requested > self.bytes_left:
            raise MockBudgetExceeded(
                keyword + " " + str(requested) + " exceeds the mock data budget of "
                + str(self.max_bytes) + " bytes", keyword=keyword, requested=requested,
                limit=self.max_bytes, unit="bytes")

    def demand_values(self, keyword: str, requested: int) -> None:
        """Refuse a keyword that alone asks for more values than are left (before building)."""
        if requested > self.nodes_left:
            raise MockBudgetExceeded(
                keyword + " " + str(requested) + " exceeds the mock data budget of "
                + str(MAX_NODES) + " values", keyword=keyword, requested=requested,
                limit=MAX_NODES, unit="values")

    def enter(self) -> None:
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise MockBudgetExceeded("schema nested deeper than " + str(MAX_NESTING) + " levels",
                                     limit=MAX_NESTING, unit="levels")

    def leave(self) -> None:
        self.nesting -= 1

    def charge_copy(self, value: Any) -> None:
        """Charge a copy of a schema value (`const`, `enum`) by its JSON size, measured once."""
        if not isinstance(value, (dict, list, str)):
            self.charge(8)
            return
        hit = self._sizes.get(id(value))
        if hit is None or hit[0] is not value:
            try:
                size = len(msgspec.json.encode(value))
            except (TypeError, ValueError, OverflowError):
                raise MockSchemaError("const/enum value is not JSON data") from None
            hit = (value, size)
            self._sizes[id(value)] = hit
        self.charge(hit[1])


def check_int_bounds(lo: int, hi: int) -> None:
    """Integers outside 64 bits cannot be stored (MongoDB) and are refused, not clamped."""
    if not (INT64_MIN <= lo <= INT64_MAX and INT64_MIN <= hi <= INT64_MAX):
        raise MockSchemaError("integer bounds outside the 64-bit range cannot be generated",
                              minimum=_short(lo), maximum=_short(hi))


def _short(number: int) -> str:
    if number.bit_length() <= 128:
        return str(number)
    return ("-" if number < 0 else "") + "about 10^" + str(int(number.bit_length() * 0.30103))
