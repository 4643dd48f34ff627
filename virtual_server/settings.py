"""Virtual server settings: read once from the environment into one immutable object.

Covers the shared settings of spec README §5.1 and the virtual ones of §5.3. Nothing here writes
to the environment (GEN-9); an invalid value fails startup with a message naming the variable
(GEN-10). With auth on (the default) `WFE_JWT_SECRET` is required and must be ≥ 32 bytes.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping

import msgspec

from db.blob import BlobLimits
from engine.settings import EngineSettings


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


PROVIDER_KEY_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "LEONARDO_API_KEY", "MIDAPI_API_KEY",
                     "ELEVENLABS_API_KEY", "SD_FORGE_API_URL")
DEFAULT_AI_CONFIG: dict[str, Any] = {"provider": "openai", "model": "gpt-4o-mini"}
MIN_SECRET_BYTES = 32


class VirtualSettings(msgspec.Struct, frozen=True, kw_only=True):
    jwt_secret: str | None = None
    # shared (§5.1)
    engine_threads: int = 4
    engine_queue: int = 8
    max_json_depth: int = 64
    template_max_source_bytes: int = 65536
    template_max_output_bytes: int = 1048576
    template_max_iterations: int = 100000
    template_max_ms: int = 2000
    workflow_max_bytes: int = 8388608
    max_event_bytes: int = 4194304
    llm_stream_chunk_timeout_s: float = 180.0
    cancel_check_interval_s: float = 0.1
    progress_interval_s: float = 0.5
    sse_heartbeat_s: float = 15.0
    sse_send_timeout_s: float = 10.0
    llm_max_attempts: int = 3
    provider_timeout_s: float = 300.0
    media_base_path: str = "./media"
    cors_origins: tuple[str, ...] = ()
    provider_keys: dict[str, str] = {}
    # virtual (§5.3)
    host: str = "0.0.0.0"
    port: int = 9001
    auth_required: bool = True
    max_body_bytes: int = 25165824
    db_max_encoded_bytes: int = 16777216
    db_max_decompressed_bytes: int = 67108864
    db_gzip_level: int = 4
    default_ai_config: dict[str, Any] = msgspec.field(default_factory=lambda: dict(DEFAULT_AI_CONFIG))
    max_auto_responses: int = 50

    def __post_init__(self) -> None:
        if self.jwt_secret is not None and len(self.jwt_secret.encode()) < MIN_SECRET_BYTES:
            raise SettingsError("WFE_JWT_SECRET must be at least 32 bytes")
        if self.auth_required and self.jwt_secret is None:
            raise SettingsError("WFE_JWT_SECRET is required when WFE_VIRTUAL_AUTH_REQUIRED is true")
        if not 0 <= self.db_gzip_level <= 9:
            raise SettingsError("WFE_VIRTUAL_DB_GZIP_LEVEL must be between 0 and 9")

    def engine_settings(self) -> EngineSettings:
        return EngineSettings(
            template_max_source_bytes=self.template_max_source_bytes,
            template_max_output_bytes=self.template_max_output_bytes,
            template_max_iterations=self.template_max_iterations,
            template_max_ms=self.template_max_ms, workflow_max_bytes=self.workflow_max_bytes,
            max_event_bytes=self.max_event_bytes, max_json_depth=self.max_json_depth,
            max_auto_responses=self.max_auto_responses,
            llm_stream_chunk_timeout_s=self.llm_stream_chunk_timeout_s,
            cancel_check_interval_s=self.cancel_check_interval_s,
            progress_interval_s=self.progress_interval_s, llm_max_attempts=self.llm_max_attempts,
            provider_timeout_s=self.provider_timeout_s, media_base_path=self.media_base_path)

    def blob_limits(self) -> BlobLimits:
        return BlobLimits(max_encoded_bytes=self.db_max_encoded_bytes,
                          max_decompressed_bytes=self.db_max_decompressed_bytes)

    def replace(self, **changes: Any) -> "VirtualSettings":
        """A copy with some fields changed (tests); validation runs again."""
        return msgspec.structs.replace(self, **changes)


# ---------------------------------------------------------------------------- parsing


def _int(name: str, low: int = 0, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise SettingsError(f"{name} must be an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise SettingsError(f"{name} must be between {low} and {high if high is not None else 'infinity'}")
        return value
    return parse


def _float(name: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise SettingsError(f"{name} must be a number, got {text!r}") from None
        if not value > 0 or value == float("inf"):
            raise SettingsError(f"{name} must be a positive number")
        return value
    return parse


def _bool(name: str) -> Callable[[str], bool]:
    def parse(text: str) -> bool:
        value = text.strip().lower()
        if value in ("1", "true", "yes", "on"):
            return True
        if value in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name} must be true or false, got {text!r}")
    return parse


def _text(name: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not text.strip():
            raise SettingsError(f"{name} must not be empty")
        return text.strip()
    return parse


def _origins(text: str) -> tuple[str, ...]:
    return tuple(o.strip() for o in text.split(",") if o.strip())


def _ai_config(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError:
        raise SettingsError("WFE_VIRTUAL_DEFAULT_AI_CONFIG must be a JSON object") from None
    if not isinstance(value, dict) or not isinstance(value.get("provider"), str):
        raise SettingsError("WFE_VIRTUAL_DEFAULT_AI_CONFIG must be a JSON object with a provider")
    return value


def _secret(text: str) -> str:
    if len(text.encode()) < MIN_SECRET_BYTES:
        raise SettingsError("WFE_JWT_SECRET must be at least 32 bytes")
    return text


_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "WFE_JWT_SECRET": ("jwt_secret", _secret),
    "WFE_ENGINE_THREADS": ("engine_threads", _int("WFE_ENGINE_THREADS", 1, 512)),
    "WFE_ENGINE_QUEUE": ("engine_queue", _int("WFE_ENGINE_QUEUE", 0, 100000)),
    "WFE_MAX_JSON_DEPTH": ("max_json_depth", _int("WFE_MAX_JSON_DEPTH", 2, 10000)),
    "WFE_TEMPLATE_MAX_SOURCE_BYTES": ("template_max_source_bytes", _int("WFE_TEMPLATE_MAX_SOURCE_BYTES", 1)),
    "WFE_TEMPLATE_MAX_OUTPUT_BYTES": ("template_max_output_bytes", _int("WFE_TEMPLATE_MAX_OUTPUT_BYTES", 1)),
    "WFE_TEMPLATE_MAX_ITERATIONS": ("template_max_iterations", _int("WFE_TEMPLATE_MAX_ITERATIONS", 1)),
    "WFE_TEMPLATE_MAX_MS": ("template_max_ms", _int("WFE_TEMPLATE_MAX_MS", 1)),
    "WFE_WORKFLOW_MAX_BYTES": ("workflow_max_bytes", _int("WFE_WORKFLOW_MAX_BYTES", 1)),
    "WFE_MAX_EVENT_BYTES": ("max_event_bytes", _int("WFE_MAX_EVENT_BYTES", 1)),
    "WFE_LLM_STREAM_CHUNK_TIMEOUT_S": ("llm_stream_chunk_timeout_s", _float("WFE_LLM_STREAM_CHUNK_TIMEOUT_S")),
    "WFE_CANCEL_CHECK_INTERVAL_S": ("cancel_check_interval_s", _float("WFE_CANCEL_CHECK_INTERVAL_S")),
    "WFE_PROGRESS_INTERVAL_S": ("progress_interval_s", _float("WFE_PROGRESS_INTERVAL_S")),
    "WFE_SSE_HEARTBEAT_S": ("sse_heartbeat_s", _float("WFE_SSE_HEARTBEAT_S")),
    "WFE_SSE_SEND_TIMEOUT_S": ("sse_send_timeout_s", _float("WFE_SSE_SEND_TIMEOUT_S")),
    "WFE_LLM_MAX_ATTEMPTS": ("llm_max_attempts", _int("WFE_LLM_MAX_ATTEMPTS", 1, 100)),
    "WFE_PROVIDER_TIMEOUT_S": ("provider_timeout_s", _float("WFE_PROVIDER_TIMEOUT_S")),
    "WFE_MEDIA_BASE_PATH": ("media_base_path", _text("WFE_MEDIA_BASE_PATH")),
    "WFE_CORS_ORIGINS": ("cors_origins", _origins),
    "WFE_HOST": ("host", _text("WFE_HOST")),
    "WFE_PORT": ("port", _int("WFE_PORT", 1, 65535)),
    "WFE_VIRTUAL_AUTH_REQUIRED": ("auth_required", _bool("WFE_VIRTUAL_AUTH_REQUIRED")),
    "WFE_VIRTUAL_MAX_BODY_BYTES": ("max_body_bytes", _int("WFE_VIRTUAL_MAX_BODY_BYTES", 1)),
    "WFE_VIRTUAL_DB_MAX_ENCODED_BYTES": ("db_max_encoded_bytes", _int("WFE_VIRTUAL_DB_MAX_ENCODED_BYTES", 1)),
    "WFE_VIRTUAL_DB_MAX_DECOMPRESSED_BYTES": ("db_max_decompressed_bytes",
                                              _int("WFE_VIRTUAL_DB_MAX_DECOMPRESSED_BYTES", 1)),
    "WFE_VIRTUAL_DB_GZIP_LEVEL": ("db_gzip_level", _int("WFE_VIRTUAL_DB_GZIP_LEVEL", 0, 9)),
    "WFE_VIRTUAL_DEFAULT_AI_CONFIG": ("default_ai_config", _ai_config),
    "WFE_MAX_AUTO_RESPONSES": ("max_auto_responses", _int("WFE_MAX_AUTO_RESPONSES", 0, 100000)),
}


def load_settings(env: Mapping[str, str], **overrides: Any) -> VirtualSettings:
    """Build settings from `env` (the entry point passes `os.environ`; tests pass a dict)."""
    values: dict[str, Any] = {}
    for var, (field, parse) in _FIELDS.items():
        raw = env.get(var)
        if raw is not None and raw != "":
            values[field] = parse(raw)
    values["provider_keys"] = {k: env[k] for k in PROVIDER_KEY_VARS if env.get(k)}
    values.update(overrides)
    try:
        return msgspec.convert(values, VirtualSettings)
    except msgspec.ValidationError as exc:
        raise SettingsError(str(exc)) from None


def describe(settings: VirtualSettings) -> str:
    """A log line without secrets."""
    shown = {k: v for k, v in msgspec.structs.asdict(settings).items()
             if k not in ("jwt_secret", "provider_keys")}
    shown["provider_keys"] = sorted(settings.provider_keys)
    shown["jwt_secret"] = "set" if settings.jwt_secret else "unset"
    return json.dumps(shown, default=str, sort_keys=True)
