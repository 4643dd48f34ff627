"""Media provider information the engine reads, derived from the vendor records (providers.md
§4.2–§4.4, PRV-14, PRV-15).

Kept in the engine so `media.generateV2` can build schemas and metadata without importing
`providers/` (GEN-1). The tables are live views of engine/media_vendor.py's registry, so a
vendor registered later (a test's fake vendor) appears in every one of them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import engine.media_vendors  # noqa: F401  (registers the built-in vendors)
from engine.media_vendor import MediaVendor, vendor, vendors

V = TypeVar("V")


class _Derived(Mapping[str, V]):
    """provider id -> one field of its record, read from the registry on every access."""

    def __init__(self, field: Callable[[MediaVendor], V]) -> None:
        self._field = field

    def __getitem__(self, provider_id: str) -> V:
        found = vendor(provider_id)
        if found is None:
            raise KeyError(provider_id)
        return self._field(found)

    def __iter__(self) -> Iterator[str]:
        return iter([v.provider_id for v in vendors()])

    def __len__(self) -> int:
        return len(vendors())


PROVIDER_ACTIONS: Mapping[str, tuple[str, ...]] = _Derived(lambda v: v.actions)
PROVIDER_CONCURRENCY: Mapping[str, int] = _Derived(lambda v: v.concurrency)
PROVIDER_CREDENTIAL: Mapping[str, str] = _Derived(lambda v: v.credential)


def supports(provider: str, action: str) -> bool:
    return action in PROVIDER_ACTIONS.get(provider, ())


def data_schema(provider: str, action: str) -> dict[str, Any]:
    """Deep copy of the §4.3 prompt payload schema; `{}` for a pair outside the table."""
    found = vendor(provider)
    return copy.deepcopy(found.schemas.get(action, {})) if found is not None else {}


def provider_metadata(provider: str, action: str) -> dict[str, Any]:
    """Deep copy of the §4.4 UI option lists; `{}` for any other pair."""
    found = vendor(provider)
    return copy.deepcopy(found.metadata.get(action, {})) if found is not None else {}


def prompt_providers(action: str) -> tuple[str, ...]:
    """The vendors `media.generateV2` may write prompts for, for one action (MOD-mg2-1)."""
    return tuple(v.provider_id for v in vendors() if action in v.prompt_actions)


def prompt_actions() -> set[str]:
    """The actions `media.generateV2` accepts: those some vendor writes prompts for."""
    return {action for v in vendors() for action in v.prompt_actions}
