"""Store contract fixtures (storage.md §6, ST-16).

`store_factory` is parametrised over store kinds; each call of the returned `make_store()` gives
a fresh, empty store with every §3.1 index in place. The production kinds ("production-wire",
"production-fast") are added here later by extending `STORE_KINDS` and `_MAKERS`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from db.blob import BlobLimits
from db.virtual_store import VirtualStore

NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
LIMITS = BlobLimits(max_encoded_bytes=16 * 1024 * 1024, max_decompressed_bytes=64 * 1024 * 1024)

StoreFactory = Callable[[], Any]

STORE_KINDS = ["virtual"]


def _virtual_factory() -> Iterator[StoreFactory]:
    yield lambda: VirtualStore.fresh(NOW)


_MAKERS: dict[str, Callable[[], Iterator[StoreFactory]]] = {"virtual": _virtual_factory}


@pytest.fixture(params=STORE_KINDS)
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_factory(store_kind: str) -> Iterator[StoreFactory]:
    """`make_store() -> Store`: fresh and empty on every call."""
    yield from _MAKERS[store_kind]()


@pytest.fixture
def store(store_factory: StoreFactory) -> Any:
    return store_factory()


@pytest.fixture
def roundtrip(store_kind: str) -> Callable[[Any, Callable[[Any], Any]], None]:
    """Storage §6 item 13 (BLOB-7): virtual only, a no-op for the production stores.

    Export → import → export is byte-identical, and `read(store)` gives the same values on the
    original store and on the re-imported one.
    """

    def check(store: Any, read: Callable[[Any], Any]) -> None:
        if store_kind != "virtual":
            return
        first = store.to_blob()
        again = VirtualStore.from_blob(first, LIMITS, NOW)
        assert again.to_blob() == first
        assert again.export() == store.export()
        assert read(again) == read(store)

    return check
