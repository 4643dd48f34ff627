"""Virtual server settings: read once from the environment into one immutable object.

Covers the shared settings of spec README §5.1 and the virtual ones of §5.3. Nothing here writes
to the environment (GEN-9); an invalid value fails startup with a message naming the variable
(GEN-10). With auth on (the default) `WFE_JWT_SECRET` is required and must be ≥ 32 bytes.
`WFE_MONGODB_URI` (the production server's database) makes authentication check the token's
user there too (virtual_server/auth.py); unset, the token alone decides.
"""

from __future__ import annotations

import json
from typing import Any, Literal, Mapping

import msgspec

from db.blob import BlobLimits
from engine import (
    MIN_SECRET_BYTES,
    SHARED_FIELDS,
    EngineSettings,
    Parser,
    SettingsError,
    SharedSettings,
    build,
    parse_bool,
    parse_choice,
    parse_float,
    parse_int,
    parse_text,
    read_fields,
)

__all__ = ["SettingsError", "VirtualSettings", "describe", "load_settings"]


DEFAULT_AI_CONFIG: dict[str, Any] = {"provider": "openai", "model": "gpt-4o-mini"}


#: the URL of a stored live generation on this server (content-addressed, see routes/media.py)
MEDIA_URL_TEMPLATE = "/workflow/media/{sha256}.{ext}"


class VirtualSettings(SharedSettings, frozen=True, kw_only=True):
    jwt_secret: str | None = None
    # virtual (§5.3)
    host: str = "0.0.0.0"
    port: int = 9001
    auth_required: bool = True
    max_body_bytes: int = 25165824
    db_max_encoded_bytes: int = 16777216
    db_max_decompressed_bytes: int = 67108864
    db_gzip_level: int = 4
    default_ai_config: dict[str, Any] = msgspec.field(default_factory=lambda: dict(DEFAULT_AI_CONFIG))
    # the production user database, for revocation checks (unset: token-only authentication)
    mongodb_uri: str | None = None
    mongodb_database: str = "workflow_engine"
    mongo_driver: Literal["motor", "pymongo_async"] = "motor"
    auth_cache_s: float = 5.0
    #: engine worker processes for the JSON routes (0: the engine pool's threads; None: the
    #: entry point uses the core count, an app built in-process uses threads)
    engine_processes: int | None = None

    def __post_init__(self) -> None:
        if self.jwt_secret is not None and len(self.jwt_secret.encode()) < MIN_SECRET_BYTES:
            raise SettingsError("WFE_JWT_SECRET must be at least 32 bytes")
        if self.auth_required and self.jwt_secret is None:
            raise SettingsError("WFE_JWT_SECRET is required when WFE_VIRTUAL_AUTH_REQUIRED is true")
        if not 0 <= self.db_gzip_level <= 9:
            raise SettingsError("WFE_VIRTUAL_DB_GZIP_LEVEL must be between 0 and 9")

    def engine_settings(self) -> EngineSettings:
        """Live generations are served by content hash (`GET /workflow/media/...`): the virtual
        server keeps no runs, so a stored file is addressed by its bytes, not by a run."""
        return msgspec.structs.replace(super().engine_settings(),
                                       max_auto_responses=self.max_auto_responses,
                                       media_url_template=MEDIA_URL_TEMPLATE)

    def blob_limits(self) -> BlobLimits:
        return BlobLimits(max_encoded_bytes=self.db_max_encoded_bytes,
                          max_decompressed_bytes=self.db_max_decompressed_bytes)

    def replace(self, **changes: Any) -> "VirtualSettings":
        """A copy with some fields changed (tests); validation runs again."""
        return msgspec.structs.replace(self, **changes)


# ---------------------------------------------------------------------------- parsing


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


_FIELDS: dict[str, tuple[str, Parser]] = {
    "WFE_JWT_SECRET": ("jwt_secret", _secret),
    **SHARED_FIELDS,
    "WFE_VIRTUAL_AUTH_REQUIRED": ("auth_required", parse_bool("WFE_VIRTUAL_AUTH_REQUIRED")),
    "WFE_VIRTUAL_MAX_BODY_BYTES": ("max_body_bytes", parse_int("WFE_VIRTUAL_MAX_BODY_BYTES", 1)),
    "WFE_VIRTUAL_DB_MAX_ENCODED_BYTES": ("db_max_encoded_bytes",
                                         parse_int("WFE_VIRTUAL_DB_MAX_ENCODED_BYTES", 1)),
    "WFE_VIRTUAL_DB_MAX_DECOMPRESSED_BYTES": ("db_max_decompressed_bytes",
                                              parse_int("WFE_VIRTUAL_DB_MAX_DECOMPRESSED_BYTES", 1)),
    "WFE_VIRTUAL_DB_GZIP_LEVEL": ("db_gzip_level", parse_int("WFE_VIRTUAL_DB_GZIP_LEVEL", 0, 9)),
    "WFE_VIRTUAL_DEFAULT_AI_CONFIG": ("default_ai_config", _ai_config),
    "WFE_MAX_AUTO_RESPONSES": ("max_auto_responses", parse_int("WFE_MAX_AUTO_RESPONSES", 0, 100000)),
    "WFE_MONGODB_URI": ("mongodb_uri", parse_text("WFE_MONGODB_URI")),
    "WFE_MONGODB_DATABASE": ("mongodb_database", parse_text("WFE_MONGODB_DATABASE")),
    "WFE_MONGO_DRIVER": ("mongo_driver", parse_choice("WFE_MONGO_DRIVER", "motor", "pymongo_async")),
    "WFE_AUTH_CACHE_S": ("auth_cache_s", parse_float("WFE_AUTH_CACHE_S", allow_zero=True)),
    "WFE_ENGINE_PROCESSES": ("engine_processes", parse_int("WFE_ENGINE_PROCESSES", 0, 256)),
}


def load_settings(env: Mapping[str, str], **overrides: Any) -> VirtualSettings:
    """Build settings from `env` (the entry point passes `os.environ`; tests pass a dict)."""
    values = read_fields(env, _FIELDS)
    values.update(overrides)
    return build(VirtualSettings, values)


def describe(settings: VirtualSettings) -> str:
    """A log line without secrets."""
    shown = {k: v for k, v in msgspec.structs.asdict(settings).items()
             if k not in ("jwt_secret", "provider_keys", "mongodb_uri")}
    shown["provider_keys"] = sorted(settings.provider_keys)
    shown["jwt_secret"] = "set" if settings.jwt_secret else "unset"
    shown["mongodb_uri"] = "set" if settings.mongodb_uri else "unset"  # may hold a password
    return json.dumps(shown, default=str, sort_keys=True)
