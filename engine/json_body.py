"""Typed, strict decoding of a JSON request body, shared by both servers.

msgspec in strict mode refuses `0` for a boolean or `"5"` for an integer, as the JSON schema of
the body does (Litestar's own `data` decoding converts leniently, which the virtual server
therefore does not use). One difference is resolved toward the schema: JSON Schema counts
`5.0` as an integer and msgspec does not, so a body that fails only that way is decoded again
with such numbers as ints. A body that decodes at once pays nothing for this.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

T = TypeVar("T")


def _integral_floats_as_ints(value: Any) -> tuple[Any, bool]:
    """`value` with every float that has no fraction (`5.0`) as an int, and whether any did."""
    if isinstance(value, float) and value.is_integer():
        return int(value), True
    if isinstance(value, dict):
        pairs = [(k, *_integral_floats_as_ints(v)) for k, v in value.items()]
        return {k: v for k, v, _ in pairs}, any(c for _, _, c in pairs)
    if isinstance(value, list):
        items = [_integral_floats_as_ints(v) for v in value]
        return [v for v, _ in items], any(c for _, c in items)
    return value, False


def decode_body(raw: bytes, type_: type[T]) -> T:
    """`raw` as `type_`; raises msgspec's `ValidationError` (the first one) or `DecodeError`."""
    try:
        return msgspec.json.decode(raw, type=type_)
    except msgspec.ValidationError as exc:
        try:
            value, changed = _integral_floats_as_ints(msgspec.json.decode(raw))
            if changed:
                return msgspec.convert(value, type_)
        except (msgspec.ValidationError, msgspec.DecodeError):
            pass
        raise exc from None
