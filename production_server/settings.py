"""Production settings: read once from the environment into one immutable object (README §5.1/§5.2).

Nothing here writes to the environment (GEN-9). Invalid values fail startup with a message that
names the variable. The one deliberate convenience: with neither `WFE_MONGODB_URI` nor
`WFE_JWT_SECRET` set (the embedded, nothing-persisted default) a random secret is generated so the
README's run command works on a fresh machine; tokens then die with the process, which is harmless
because the data does too. A deployment (URI set) must provide the secret.
"""

from __future__ import annotations

import json
import secrets
from typing import Any, Callable, Literal, Mapping

import msgspec

from engine.settings import EngineSettings


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names the variable."""


PROVIDER_KEY_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "LEONARDO_API_KEY", "MIDAPI_API_KEY",
                     "ELEVENLABS_API_KEY", "SD_FORGE_API_URL")


class ProductionSettings(msgspec.Struct, frozen=True, kw_only=True):
    jwt_secret: str
    jwt_secret_generated: bool = False
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
    # production (§5.2)
    host: str = "0.0.0.0"
    port: int = 9000
    mongodb_uri: str | None = None
    mongodb_database: str = "workflow_engine"
    mongo_driver: Literal["motor", "pymongo_async"] = "motor"
    mongo_write_concern: str = "majority"
    db_call_timeout_s: float = 30.0
    max_body_bytes: int = 1048576
    upload_max_body_bytes: int = 12582912
    allow_mock_runs: bool = False
    access_token_ttl_s: int = 3600
    refresh_token_ttl_s: int = 1209600
    refresh_rotation_grace_s: int = 60
    cookie_secure: bool = True
    cookie_samesite: Literal["lax", "strict", "none"] = "lax"
    cookie_domain: str | None = None
    login_max_failures: int = 10
    login_window_s: int = 900
    sse_max_per_user: int = 8

    def __post_init__(self) -> None:
        if len(self.jwt_secret.encode()) < 32:
            raise SettingsError("WFE_JWT_SECRET must be at least 32 bytes")

    def engine_settings(self) -> EngineSettings:
        return EngineSettings(
            template_max_source_bytes=self.template_max_source_bytes,
            template_max_output_bytes=self.template_max_output_bytes,
            template_max_iterations=self.template_max_iterations,
            template_max_ms=self.template_max_ms, workflow_max_bytes=self.workflow_max_bytes,
            max_event_bytes=self.max_event_bytes, max_json_depth=self.max_json_depth,
            llm_stream_chunk_timeout_s=self.llm_stream_chunk_timeout_s,
            cancel_check_interval_s=self.cancel_check_interval_s,
            progress_interval_s=self.progress_interval_s, llm_max_attempts=self.llm_max_attempts,
            provider_timeout_s=self.provider_timeout_s, media_base_path=self.media_base_path)

    def replace(self, **changes: Any) -> "ProductionSettings":
        """A copy with some fields changed (tests; validation runs again)."""
        return msgspec.structs.replace(self, **changes)


# ---------------------------------------------------------------------------- parsing


def _int(name: str, low: int = 0, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise SettingsError(f"{name} must be an integer, got {text!r}") from None
        if value < low or (high is not None and value > high):
            raise SettingsError(f"{name} must be between {low} and {high or 'infinity'}")
        return value
    return parse


def _float(name: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise SettingsError(f"{name} must be a number, got {text!r}") from None
        if not value > 0:
            raise SettingsError(f"{name} must be positive")
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


def _choice(name: str, *choices: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        value = text.strip().lower()
        if value not in choices:
            raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {text!r}")
        return value
    return parse


def _text(name: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if not text.strip():
            raise SettingsError(f"{name} must not be empty")
        return text.strip()
    return parse


def _origins(text: str) -> tuple[str, ...]:
    return tuple(o.strip() for o in text.split(",") if o.strip())


_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
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
    "WFE_MONGODB_URI": ("mongodb_uri", _text("WFE_MONGODB_URI")),
    "WFE_MONGODB_DATABASE": ("mongodb_database", _text("WFE_MONGODB_DATABASE")),
    "WFE_MONGO_DRIVER": ("mongo_driver", _choice("WFE_MONGO_DRIVER", "motor", "pymongo_async")),
    "WFE_MONGO_WRITE_CONCERN": ("mongo_write_concern", _text("WFE_MONGO_WRITE_CONCERN")),
    "WFE_DB_CALL_TIMEOUT_S": ("db_call_timeout_s", _float("WFE_DB_CALL_TIMEOUT_S")),
    "WFE_MAX_BODY_BYTES": ("max_body_bytes", _int("WFE_MAX_BODY_BYTES", 1)),
    "WFE_UPLOAD_MAX_BODY_BYTES": ("upload_max_body_bytes", _int("WFE_UPLOAD_MAX_BODY_BYTES", 1)),
    "WFE_ALLOW_MOCK_RUNS": ("allow_mock_runs", _bool("WFE_ALLOW_MOCK_RUNS")),
    "WFE_ACCESS_TOKEN_TTL_S": ("access_token_ttl_s", _int("WFE_ACCESS_TOKEN_TTL_S", 1)),
    "WFE_REFRESH_TOKEN_TTL_S": ("refresh_token_ttl_s", _int("WFE_REFRESH_TOKEN_TTL_S", 1)),
    "WFE_REFRESH_ROTATION_GRACE_S": ("refresh_rotation_grace_s", _int("WFE_REFRESH_ROTATION_GRACE_S", 0)),
    "WFE_COOKIE_SECURE": ("cookie_secure", _bool("WFE_COOKIE_SECURE")),
    "WFE_COOKIE_SAMESITE": ("cookie_samesite", _choice("WFE_COOKIE_SAMESITE", "lax", "strict", "none")),
    "WFE_COOKIE_DOMAIN": ("cookie_domain", _text("WFE_COOKIE_DOMAIN")),
    "WFE_LOGIN_MAX_FAILURES": ("login_max_failures", _int("WFE_LOGIN_MAX_FAILURES", 1)),
    "WFE_LOGIN_WINDOW_S": ("login_window_s", _int("WFE_LOGIN_WINDOW_S", 1)),
    "WFE_SSE_MAX_PER_USER": ("sse_max_per_user", _int("WFE_SSE_MAX_PER_USER", 1)),
}


def load_settings(env: Mapping[str, str], **overrides: Any) -> ProductionSettings:
    """Build settings from `env` (pass `os.environ` at the entry point; tests pass a dict)."""
    values: dict[str, Any] = {}
    for var, (field, parse) in _FIELDS.items():
        raw = env.get(var)
        if raw is not None and raw != "":
            values[field] = parse(raw)
    values["provider_keys"] = {k: env[k] for k in PROVIDER_KEY_VARS if env.get(k)}
    secret = env.get("WFE_JWT_SECRET") or ""
    if not secret:
        if values.get("mongodb_uri"):
            raise SettingsError("WFE_JWT_SECRET is required when WFE_MONGODB_URI is set")
        secret = secrets.token_urlsafe(48)
        values["jwt_secret_generated"] = True
    values["jwt_secret"] = secret
    values.update(overrides)
    try:
        return msgspec.convert(values, ProductionSettings)
    except msgspec.ValidationError as exc:
        raise SettingsError(str(exc)) from None


def describe(settings: ProductionSettings) -> str:
    """A log line without secrets."""
    shown = {k: v for k, v in msgspec.structs.asdict(settings).items()
             if k not in ("jwt_secret", "provider_keys")}
    shown["provider_keys"] = sorted(settings.provider_keys)
    return json.dumps(shown, default=str, sort_keys=True)
