"""EngineSettings: the engine-relevant limits of spec README §5, immutable, built by each server."""

from __future__ import annotations

import msgspec


class EngineSettings(msgspec.Struct, frozen=True, kw_only=True):
    template_max_source_bytes: int = 65536
    template_max_output_bytes: int = 1048576
    template_max_iterations: int = 100000
    template_max_ms: int = 2000
    #: estimated bytes one render may build (values, copies, text) before it is refused
    template_max_memory_bytes: int = 16777216
    #: estimated JSON bytes one mock-data request or one mock auto-answer may generate
    mock_data_max_bytes: int = 2097152
    workflow_max_bytes: int = 8388608
    max_event_bytes: int = 4194304
    max_json_depth: int = 64
    max_auto_responses: int = 50
    #: wall-clock budget of one engine operation, checked at module boundaries (issue 15)
    operation_deadline_s: float = 60.0
    workflow_max_steps: int = 200
    workflow_max_modules: int = 2000
    llm_stream_chunk_timeout_s: float = 180.0
    cancel_check_interval_s: float = 0.1
    progress_interval_s: float = 0.5
    llm_max_attempts: int = 3
    provider_timeout_s: float = 300.0
    media_base_path: str = "./media"
    media_max_bytes: int = 268435456
    #: where clients fetch a stored generated file; the production server sets its media route
    media_url_template: str | None = None
    #: process-local caches (issue 13): off makes every lookup a miss, so the answers are the
    #: same either way, only slower
    caches: bool = True
    #: bound of each cache: estimated bytes held and number of entries (least recent go first)
    cache_max_bytes: int = 268435456
    cache_max_entries: int = 1024
