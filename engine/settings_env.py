"""Parsing of the settings both servers share (spec README §5.1), written once.

Pure functions over a mapping: the servers pass `os.environ` at their entry points and tests
pass dicts, so the engine itself never reads the environment (ENG-2, GEN-9). Each parse error
names the variable, so a bad value fails startup with a clear message (GEN-10).
"""

from __future__ import annotations

from typing import Any, Callable, Literal, Mapping

import msgspec

from engine.errors import SettingsError
from engine.settings import EngineSettings
from engine.vendor_settings import key_settings, url_settings

Parser = Callable[[str], Any]

MIN_SECRET_BYTES = 32


def parse_int(name: str, low: int = 0, high: int | None = None) -> Parser:
    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise SettingsError(f"{name} must be an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            upper = high if high is not None else "infinity"
            raise SettingsError(f"{name} must be between {low} and {upper}")
        return value
    return parse


def parse_float(name: str, *, allow_zero: bool = False) -> Parser:
    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise SettingsError(f"{name} must be a number, got {text!r}") from None
        if allow_zero and value == 0:
            return 0.0
        if not value > 0 or value == float("inf"):
            raise SettingsError(f"{name} must be a positive number"
                                + (" or 0" if allow_zero else ""))
        return value
    return parse


def parse_bool(name: str) -> Parser:
    def parse(text: str) -> bool:
        value = text.strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name} must be true or false, got {text!r}")
    return parse


def parse_choice(name: str, *choices: str) -> Parser:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {text!r}")
        return value
    return parse


def parse_text(name: str) -> Parser:
    def parse(text: str) -> str:
        if not text.strip():
            raise SettingsError(f"{name} must not be empty")
        return text.strip()
    return parse


def parse_origins(text: str) -> tuple[str, ...]:
    return tuple(o.strip() for o in text.split(",") if o.strip())


def _f(field: str, parser: Parser) -> tuple[str, Parser]:
    return field, parser


#: variable -> (settings field, parser) for every setting of README §5.1 both servers read
SHARED_FIELDS: dict[str, tuple[str, Parser]] = {
    "WFE_ENGINE_THREADS": _f("engine_threads", parse_int("WFE_ENGINE_THREADS", 1, 512)),
    "WFE_ENGINE_QUEUE": _f("engine_queue", parse_int("WFE_ENGINE_QUEUE", 0, 100000)),
    "WFE_ENGINE_NICE": _f("engine_nice", parse_int("WFE_ENGINE_NICE", 0, 19)),
    "WFE_SWITCH_INTERVAL_MS": _f("switch_interval_ms", parse_float("WFE_SWITCH_INTERVAL_MS")),
    "WFE_MAX_JSON_DEPTH": _f("max_json_depth", parse_int("WFE_MAX_JSON_DEPTH", 2, 10000)),
    "WFE_TEMPLATE_MAX_SOURCE_BYTES": _f("template_max_source_bytes",
                                        parse_int("WFE_TEMPLATE_MAX_SOURCE_BYTES", 1)),
    "WFE_TEMPLATE_MAX_OUTPUT_BYTES": _f("template_max_output_bytes",
                                        parse_int("WFE_TEMPLATE_MAX_OUTPUT_BYTES", 1)),
    "WFE_TEMPLATE_MAX_ITERATIONS": _f("template_max_iterations",
                                      parse_int("WFE_TEMPLATE_MAX_ITERATIONS", 1)),
    "WFE_TEMPLATE_MAX_MS": _f("template_max_ms", parse_int("WFE_TEMPLATE_MAX_MS", 1)),
    "WFE_TEMPLATE_MAX_MEMORY_BYTES": _f("template_max_memory_bytes",
                                        parse_int("WFE_TEMPLATE_MAX_MEMORY_BYTES", 1)),
    "WFE_MOCK_DATA_MAX_BYTES": _f("mock_data_max_bytes", parse_int("WFE_MOCK_DATA_MAX_BYTES", 1)),
    "WFE_WORKFLOW_MAX_BYTES": _f("workflow_max_bytes", parse_int("WFE_WORKFLOW_MAX_BYTES", 1)),
    "WFE_MAX_EVENT_BYTES": _f("max_event_bytes", parse_int("WFE_MAX_EVENT_BYTES", 1)),
    "WFE_OPERATION_DEADLINE_S": _f("operation_deadline_s",
                                   parse_float("WFE_OPERATION_DEADLINE_S")),
    "WFE_WORKFLOW_MAX_STEPS": _f("workflow_max_steps", parse_int("WFE_WORKFLOW_MAX_STEPS", 1)),
    "WFE_WORKFLOW_MAX_MODULES": _f("workflow_max_modules",
                                   parse_int("WFE_WORKFLOW_MAX_MODULES", 1)),
    "WFE_LLM_STREAM_CHUNK_TIMEOUT_S": _f("llm_stream_chunk_timeout_s",
                                         parse_float("WFE_LLM_STREAM_CHUNK_TIMEOUT_S")),
    "WFE_CANCEL_CHECK_INTERVAL_S": _f("cancel_check_interval_s",
                                      parse_float("WFE_CANCEL_CHECK_INTERVAL_S")),
    "WFE_PROGRESS_INTERVAL_S": _f("progress_interval_s", parse_float("WFE_PROGRESS_INTERVAL_S")),
    "WFE_SSE_HEARTBEAT_S": _f("sse_heartbeat_s", parse_float("WFE_SSE_HEARTBEAT_S")),
    "WFE_SSE_SEND_TIMEOUT_S": _f("sse_send_timeout_s", parse_float("WFE_SSE_SEND_TIMEOUT_S")),
    "WFE_LLM_MAX_ATTEMPTS": _f("llm_max_attempts", parse_int("WFE_LLM_MAX_ATTEMPTS", 1, 100)),
    "WFE_PROVIDER_TIMEOUT_S": _f("provider_timeout_s", parse_float("WFE_PROVIDER_TIMEOUT_S")),
    "WFE_MEDIA_BASE_PATH": _f("media_base_path", parse_text("WFE_MEDIA_BASE_PATH")),
    "WFE_MEDIA_MAX_BYTES": _f("media_max_bytes", parse_int("WFE_MEDIA_MAX_BYTES", 1)),
    "WFE_MEDIA_POLL_INTERVAL_S": _f("media_poll_interval_s",
                                    parse_float("WFE_MEDIA_POLL_INTERVAL_S")),
    "WFE_CORS_ORIGINS": _f("cors_origins", parse_origins),
    "WFE_BODY_TIMEOUT_S": _f("body_timeout_s", parse_float("WFE_BODY_TIMEOUT_S")),
    "WFE_DB_SELECTION_TIMEOUT_MS": _f("db_selection_timeout_ms",
                                      parse_int("WFE_DB_SELECTION_TIMEOUT_MS", 1, 600000)),
    "WFE_DB_BREAKER_OPEN_S": _f("db_breaker_open_s", parse_float("WFE_DB_BREAKER_OPEN_S")),
    "WFE_ACCESS_LOG": _f("access_log", parse_bool("WFE_ACCESS_LOG")),
    "WFE_KEEP_ALIVE_S": _f("keep_alive_s", parse_int("WFE_KEEP_ALIVE_S", 1, 3600)),
    "WFE_BACKLOG": _f("backlog", parse_int("WFE_BACKLOG", 1, 65535)),
    "WFE_HOST": _f("host", parse_text("WFE_HOST")),
    "WFE_PORT": _f("port", parse_int("WFE_PORT", 1, 65535)),
    "WFE_ENV": _f("env", parse_choice("WFE_ENV", "production", "development")),
    "WFE_LOG_FORMAT": _f("log_format", parse_choice("WFE_LOG_FORMAT", "text", "json")),
    "WFE_CACHES": _f("caches", parse_bool("WFE_CACHES")),
    "WFE_CACHE_MAX_BYTES": _f("cache_max_bytes", parse_int("WFE_CACHE_MAX_BYTES", 0)),
    "WFE_CACHE_MAX_ENTRIES": _f("cache_max_entries", parse_int("WFE_CACHE_MAX_ENTRIES", 0)),
}


class SharedSettings(EngineSettings, frozen=True, kw_only=True):
    """Fields of README §5.1, inherited by each server's settings object.

    The engine's limits are inherited from `EngineSettings` (one default each); only what the
    servers alone use is added here.
    """

    engine_threads: int = 4
    engine_queue: int = 8
    #: the engine threads' OS priority below the event loop's (engine/pool.py, issue 15)
    engine_nice: int = 10
    #: the interpreter's GIL switch interval, set at the server's start (engine/pool.py)
    switch_interval_ms: float = 1.0
    sse_heartbeat_s: float = 15.0
    sse_send_timeout_s: float = 10.0
    media_poll_interval_s: float = 2.0
    cors_origins: tuple[str, ...] = ()
    #: `development` (set by scripts/serve) turns on the friendly local defaults (README "Settings")
    env: Literal["production", "development"] = "production"
    #: `json` writes one JSON object per log line (for log collectors), `text` a readable line
    log_format: Literal["text", "json"] = "text"
    #: an admitted engine request's body must arrive within this (it holds a pool slot meanwhile)
    body_timeout_s: float = 30.0
    #: the database (db/breaker.py): a call waits about twice this at most for an unreachable
    #: server, then calls fail at once for `db_breaker_open_s` before one of them probes it again
    db_selection_timeout_ms: int = 400
    db_breaker_open_s: float = 1.0
    #: uvicorn (see `server_options`): a line per request costs the event loop under a storm
    access_log: bool = False
    keep_alive_s: int = 75
    backlog: int = 2048
    provider_keys: dict[str, str] = msgspec.field(default_factory=dict)
    provider_urls: dict[str, str] = msgspec.field(default_factory=dict)

    @property
    def development(self) -> bool:
        return self.env == "development"

    def server_options(self, protocol: str) -> dict[str, Any]:
        """uvicorn's options (issue 15). `protocol`, the import path of the server's httptools
        protocol: httptools, unlike h11, keeps a connection whose request was answered before its
        body was read (the rest is read and dropped) instead of closing it with unread bytes,
        which resets it, and the server's protocol paces that reading a chunk per loop iteration
        (engine/http_drain.py). An idle keep-alive longer than clients' own (httpx 5 s,
        browsers, proxies ~60 s), so a client never reuses a connection the server is closing
        at that moment; the listen backlog. No `limit_concurrency`: its 503s would hit
        `/health` too; admission is the engine pool's (engine/admission.py)."""
        return {"http": protocol, "timeout_keep_alive": self.keep_alive_s,
                "backlog": self.backlog, "access_log": self.access_log}

    def engine_settings(self) -> EngineSettings:
        """The engine's limits, taken from the fields of the same names."""
        names = set(EngineSettings.__struct_fields__)
        return EngineSettings(**{k: v for k, v in msgspec.structs.asdict(self).items() if k in names})


def read_fields(env: Mapping[str, str], fields: Mapping[str, tuple[str, Parser]]) -> dict[str, Any]:
    """Parse every variable of `fields` present and non-empty in `env`, plus the provider keys."""
    values: dict[str, Any] = {}
    for var, (field, parse) in fields.items():
        raw = env.get(var)
        if raw is not None and raw != "":
            values[field] = parse(raw)
    values["provider_keys"] = {k: env[k] for k in key_settings() if env.get(k)}
    values["provider_urls"] = {k: _parse_base_url(k, env[k]) for k in url_settings()
                               if env.get(k, "").strip()}
    return values


def _parse_base_url(name: str, text: str) -> str:
    value = text.strip().rstrip("/")
    scheme, _, rest = value.partition("://")
    if scheme not in ("http", "https") or not rest or any(c.isspace() for c in value):
        raise SettingsError(f"{name} must be an http(s) URL, got {text!r}")
    return value


def build(struct: type, values: dict[str, Any]) -> Any:
    try:
        return msgspec.convert(values, struct)
    except msgspec.ValidationError as exc:
        raise SettingsError(str(exc)) from None
