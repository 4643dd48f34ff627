"""The store cache's keys (db/blob_keys.py): a text is found by its length and tail, and only the
same text, character for character, is a hit."""

from __future__ import annotations

import base64
import random

import pytest

from db.blob_keys import TAIL, TextCache, blob_probe
from db.blob_members import append_member, gzip_member

pytestmark = pytest.mark.caches  # kept on in the WFE_CACHES=off run (tests/conftest.py)


def _blob(seed: bytes) -> str:
    """A blob text of a few hundred characters (random content does not compress)."""
    return base64.b64encode(gzip_member(random.Random(seed).randbytes(300), 4)).decode()


def test_only_the_same_text_is_a_hit() -> None:
    cache: TextCache[str] = TextCache(True, 2**20, 8)
    request = _blob(b"abc")
    cache.put(request, "decoded", 100)
    assert cache.get(request) == "decoded"
    assert cache.get("".join(list(request))) == "decoded"  # an equal text, another object
    response = append_member(request, gzip_member(b'{"n": 1}', 4))
    assert cache.get(response) is None  # the blob the editor gets back: not kept yet
    cache.put(response, "after", 100)
    assert (cache.get(request), cache.get(response)) == ("decoded", "after")
    assert (cache.stats.hits, cache.stats.misses) == (4, 1)


def test_texts_sharing_a_probe_are_misses_of_each_other() -> None:
    cache: TextCache[str] = TextCache(True, 2**20, 8)
    first = _blob(b"abc")
    other = "A" + first[1:] if first[0] != "A" else "B" + first[1:]  # same length and tail
    assert len(first) > TAIL
    assert blob_probe(first) == blob_probe(other) and first != other
    cache.put(first, "first", 10)
    assert cache.get(other) is None
    cache.put(other, "other", 10)  # the later text takes the shared slot
    assert (cache.get(first), cache.get(other)) == (None, "other")
    shorter = first[:-1]
    assert blob_probe(shorter) != blob_probe(first) and cache.get(shorter) is None


def test_an_entry_counts_its_text_and_a_disabled_cache_keeps_nothing() -> None:
    cache: TextCache[str] = TextCache(True, 2**20, 8)
    text = _blob(b"xyz")
    cache.put(text, "v", 1000)
    assert cache.stats.nbytes == 1000 + len(text)
    off: TextCache[str] = TextCache(False, 2**20, 8)
    off.put(text, "v", 10)
    assert off.get(text) is None and off.stats.entries == 0


def test_probes_of_short_and_non_ascii_texts() -> None:
    for text in ["", "QQ==", "é" * (TAIL + 3), "\ud800"]:  # a lone surrogate is not refused here
        cache: TextCache[int] = TextCache(True, 2**20, 8)
        cache.put(text, 1, 1)
        assert cache.get(text) == 1
        assert cache.get(text + "A") is None
