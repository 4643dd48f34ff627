"""The validated workflow by a hash of its bytes (issue 13): skip re-validating and re-hashing.

The editor sends the same workflow with every request; validating it (engine/validation.py) and
computing its content hash (WF-22, a canonical-JSON SHA-256) cost most of a short request. Both
depend only on the workflow's JSON and the engine's limits, so the cache keys on a SHA-256 digest
of both and keeps the content hash of a workflow that passed. A failing workflow is never kept,
so its error is raised again exactly. Workflows reach the engine decoded from JSON (wire bodies,
uploaded files), where the encoded bytes determine the value.
"""

from __future__ import annotations

from typing import Any

import msgspec

from engine.content_cache import ContentCache, digest
from engine.settings import EngineSettings
from engine.validation import validate_workflow
from engine.versions import content_hash

_ENCODER = msgspec.json.Encoder()


def workflow_cache(settings: EngineSettings) -> ContentCache[str]:
    return ContentCache(settings.caches, settings.cache_max_bytes, settings.cache_max_entries)


def _key(workflow: Any, settings: EngineSettings) -> bytes | None:
    try:
        return digest(_ENCODER.encode(settings), _ENCODER.encode(workflow))
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError):
        return None  # not plain JSON: validation says why


def checked_content_hash(workflow: Any, settings: EngineSettings,
                         cache: ContentCache[str] | None) -> str:
    """Validate the workflow (raises as `validate_workflow`) and return its content hash."""
    key = _key(workflow, settings) if cache is not None and cache.enabled else None
    if key is not None and cache is not None:
        known = cache.get(key)
        if known is not None:
            return known
    validate_workflow(workflow, settings)
    found = content_hash(workflow)
    if key is not None and cache is not None:
        cache.put(key, found, 160)
    return found
