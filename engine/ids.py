"""Strictly monotonic uuid7 hex ids (engine.md §19, ENG-52).

Ordering never depends on ids (events use `sequence`), but monotonic ids make stores and logs
sort naturally. When uuid7 would not increase (same millisecond with a smaller random part, or a
clock step back) the previous value plus one in its random bits is used instead.
"""

from __future__ import annotations

import threading

import uuid6

_RAND_B_BITS = 62
_RAND_A_BITS = 12


def _pack(counter: int) -> int:
    """Spread a 122-bit counter (ts | rand_a | rand_b) over the uuid7 layout."""
    rand_b = counter & ((1 << _RAND_B_BITS) - 1)
    rand_a = (counter >> _RAND_B_BITS) & ((1 << _RAND_A_BITS) - 1)
    ts = counter >> (_RAND_B_BITS + _RAND_A_BITS)
    return (ts << 80) | (0x7 << 76) | (rand_a << 64) | (0b10 << 62) | rand_b


def _unpack(value: int) -> int:
    rand_b = value & ((1 << _RAND_B_BITS) - 1)
    rand_a = (value >> 64) & ((1 << _RAND_A_BITS) - 1)
    ts = value >> 80
    return (ts << (_RAND_B_BITS + _RAND_A_BITS)) | (rand_a << _RAND_B_BITS) | rand_b


class MonotonicIds:
    """Production id generator: `uuid6.uuid7()` forced strictly increasing."""

    def __init__(self) -> None:
        self._last = 0
        self._lock = threading.Lock()

    def new_hex(self) -> str:
        with self._lock:
            value = uuid6.uuid7().int
            if value <= self._last:
                value = _pack(_unpack(self._last) + 1)
            self._last = value
            return f"{value:032x}"

    def new_id(self, prefix: str) -> str:
        return prefix + self.new_hex()


class SequentialIds:
    """Deterministic test ids: valid uuid7 values built from a fixed millisecond and a counter."""

    def __init__(self, start_ms: int = 1_767_225_600_000) -> None:
        self._base = start_ms << (_RAND_B_BITS + _RAND_A_BITS)
        self._counter = 0
        self._lock = threading.Lock()

    def new_hex(self) -> str:
        with self._lock:
            self._counter += 1
            return f"{_pack(self._base + self._counter):032x}"

    def new_id(self, prefix: str) -> str:
        return prefix + self.new_hex()
