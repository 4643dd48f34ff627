"""Production settings: read once from the environment into one immutable object (README §5.1/§5.2).

Nothing here writes to the environment (GEN-9). Invalid values fail startup with a message that
names the variable. The one deliberate convenience: with neither `WFE_MONGODB_URI` nor
`WFE_JWT_SECRET` set (the embedded, nothing-persisted default) a random secret is generated so the
README's run command works on a fresh machine; tokens then die with the process, which is harmless
because the data does too. A deployment (URI set) must provide the secret.

`WFE_ENV=development` (what scripts/serve sets) changes defaults, never explicit values: mock runs
are accepted unless `WFE_ALLOW_MOCK_RUNS` says otherwise, cookies are not `Secure` (plain
http://localhost) unless `WFE_COOKIE_SECURE` says so, and a development admin user is kept in
place at startup when `WFE_DEV_ADMIN_PASSWORD` is given. That password is refused outside
development, so a deployment cannot pick up a known admin login by accident.
"""

from __future__ import annotations

import json
import secrets
from typing import Any, Literal, Mapping

import msgspec

from engine.errors import SettingsError
from engine.settings import EngineSettings
from engine.settings_env import (
    SHARED_FIELDS,
    Parser,
    SharedSettings,
    build,
    parse_bool,
    parse_choice,
    parse_float,
    parse_int,
    parse_text,
    read_fields,
)

__all__ = ["ProductionSettings", "SettingsError", "describe", "load_settings"]

#: the URL of a stored generated file: `GET /workflow/{id}/media/{content_id}.{extension}`
MEDIA_URL_TEMPLATE = "/workflow/{run_id}/media/{content_id}.{ext}"
#: the keys whose absence makes `WFE_DEFAULT_MOCK=auto` choose mock runs
LLM_KEY_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")


class ProductionSettings(SharedSettings, frozen=True, kw_only=True):
    jwt_secret: str
    jwt_secret_generated: bool = False
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
    default_mock: Literal["auto", "true", "false"] = "auto"
    access_token_ttl_s: int = 3600
    refresh_token_ttl_s: int = 1209600
    refresh_rotation_grace_s: int = 60
    auth_cache_s: float = 5.0
    cookie_secure: bool = True
    cookie_samesite: Literal["lax", "strict", "none"] = "lax"
    cookie_domain: str | None = None
    login_max_failures: int = 10
    login_window_s: int = 900
    sse_max_per_user: int = 8
    # media sub-actions as background jobs (production_server/jobs)
    media_queue_max: int = 64
    media_workers: int = 4
    task_heartbeat_s: float = 5.0
    task_stale_s: float = 60.0
    # development only (scripts/serve): the admin user created or repaired at startup
    dev_admin_username: str = "admin"
    dev_admin_password: str | None = None

    def __post_init__(self) -> None:
        if len(self.jwt_secret.encode()) < 32:
            raise SettingsError("WFE_JWT_SECRET must be at least 32 bytes")
        if self.dev_admin_password is not None and not self.development:
            raise SettingsError("WFE_DEV_ADMIN_PASSWORD is only accepted with "
                                "WFE_ENV=development")

    @property
    def mock_by_default(self) -> bool:
        """A start without `mock` is a mock run: the development default (issue 10).

        `auto` means: development (`WFE_ENV=development`, as scripts/serve runs, or the embedded
        database: no `WFE_MONGODB_URI`) and no LLM key configured, so a newcomer's run from the
        web UI does not die at the first LLM call. Never in a deployment (production with a
        URI): there a missing key stays an error naming the setting.
        """
        if self.mongodb_uri and not self.development:
            return False
        if self.default_mock == "auto":
            return not any(self.provider_keys.get(k) for k in LLM_KEY_VARS)
        return self.default_mock == "true"

    @property
    def mock_runs_allowed(self) -> bool:
        return self.allow_mock_runs or self.mock_by_default

    def engine_settings(self) -> EngineSettings:
        """Stored generations are served by this server's media route (wire-api.md §6.7)."""
        return msgspec.structs.replace(super().engine_settings(),
                                       media_url_template=MEDIA_URL_TEMPLATE)

    def replace(self, **changes: Any) -> "ProductionSettings":
        """A copy with some fields changed (tests; validation runs again)."""
        return msgspec.structs.replace(self, **changes)


# ---------------------------------------------------------------------------- parsing

_FIELDS: dict[str, tuple[str, Parser]] = {
    **SHARED_FIELDS,
    "WFE_MONGODB_URI": ("mongodb_uri", parse_text("WFE_MONGODB_URI")),
    "WFE_MONGODB_DATABASE": ("mongodb_database", parse_text("WFE_MONGODB_DATABASE")),
    "WFE_MONGO_DRIVER": ("mongo_driver", parse_choice("WFE_MONGO_DRIVER", "motor", "pymongo_async")),
    "WFE_MONGO_WRITE_CONCERN": ("mongo_write_concern", parse_text("WFE_MONGO_WRITE_CONCERN")),
    "WFE_DB_CALL_TIMEOUT_S": ("db_call_timeout_s", parse_float("WFE_DB_CALL_TIMEOUT_S")),
    "WFE_MAX_BODY_BYTES": ("max_body_bytes", parse_int("WFE_MAX_BODY_BYTES", 1)),
    "WFE_UPLOAD_MAX_BODY_BYTES": ("upload_max_body_bytes", parse_int("WFE_UPLOAD_MAX_BODY_BYTES", 1)),
    "WFE_ALLOW_MOCK_RUNS": ("allow_mock_runs", parse_bool("WFE_ALLOW_MOCK_RUNS")),
    "WFE_DEFAULT_MOCK": ("default_mock",
                         parse_choice("WFE_DEFAULT_MOCK", "auto", "true", "false")),
    "WFE_ACCESS_TOKEN_TTL_S": ("access_token_ttl_s", parse_int("WFE_ACCESS_TOKEN_TTL_S", 1)),
    "WFE_REFRESH_TOKEN_TTL_S": ("refresh_token_ttl_s", parse_int("WFE_REFRESH_TOKEN_TTL_S", 1)),
    "WFE_REFRESH_ROTATION_GRACE_S": ("refresh_rotation_grace_s", parse_int("WFE_REFRESH_ROTATION_GRACE_S", 0)),
    "WFE_AUTH_CACHE_S": ("auth_cache_s", parse_float("WFE_AUTH_CACHE_S", allow_zero=True)),
    "WFE_COOKIE_SECURE": ("cookie_secure", parse_bool("WFE_COOKIE_SECURE")),
    "WFE_COOKIE_SAMESITE": ("cookie_samesite", parse_choice("WFE_COOKIE_SAMESITE", "lax", "strict", "none")),
    "WFE_COOKIE_DOMAIN": ("cookie_domain", parse_text("WFE_COOKIE_DOMAIN")),
    "WFE_LOGIN_MAX_FAILURES": ("login_max_failures", parse_int("WFE_LOGIN_MAX_FAILURES", 1)),
    "WFE_LOGIN_WINDOW_S": ("login_window_s", parse_int("WFE_LOGIN_WINDOW_S", 1)),
    "WFE_SSE_MAX_PER_USER": ("sse_max_per_user", parse_int("WFE_SSE_MAX_PER_USER", 1)),
    "WFE_MEDIA_QUEUE_MAX": ("media_queue_max", parse_int("WFE_MEDIA_QUEUE_MAX", 1)),
    "WFE_MEDIA_WORKERS": ("media_workers", parse_int("WFE_MEDIA_WORKERS", 1)),
    "WFE_TASK_HEARTBEAT_S": ("task_heartbeat_s", parse_float("WFE_TASK_HEARTBEAT_S")),
    "WFE_TASK_STALE_S": ("task_stale_s", parse_float("WFE_TASK_STALE_S")),
    "WFE_DEV_ADMIN_USERNAME": ("dev_admin_username", parse_text("WFE_DEV_ADMIN_USERNAME")),
    "WFE_DEV_ADMIN_PASSWORD": ("dev_admin_password", parse_text("WFE_DEV_ADMIN_PASSWORD")),
}

#: defaults that differ in development; an explicitly set variable always wins
_DEVELOPMENT_DEFAULTS: dict[str, Any] = {"allow_mock_runs": True, "cookie_secure": False,
                                         "access_log": True}


def load_settings(env: Mapping[str, str], *, require_secret: bool = True,
                  **overrides: Any) -> ProductionSettings:
    """Build settings from `env` (pass `os.environ` at the entry point; tests pass a dict).

    `require_secret=False` is for tools that never touch tokens (the admin command line).
    """
    values = read_fields(env, _FIELDS)
    if values.get("env") == "development":
        values = {**_DEVELOPMENT_DEFAULTS, **values}
    secret = env.get("WFE_JWT_SECRET") or ""
    if not secret:
        if values.get("mongodb_uri") and require_secret:
            raise SettingsError("WFE_JWT_SECRET is required when WFE_MONGODB_URI is set")
        secret = secrets.token_urlsafe(48)
        values["jwt_secret_generated"] = True
    values["jwt_secret"] = secret
    values.update(overrides)
    if values.get("default_mock") == "true" and values.get("mongodb_uri") and \
            values.get("env") != "development":
        raise SettingsError("WFE_DEFAULT_MOCK=true is a development setting and cannot be used "
                            "with WFE_MONGODB_URI (a deployment) outside WFE_ENV=development")
    return build(ProductionSettings, values)


def describe(settings: ProductionSettings) -> str:
    """A log line without secrets."""
    shown = {k: v for k, v in msgspec.structs.asdict(settings).items()
             if k not in ("jwt_secret", "provider_keys", "dev_admin_password")}
    shown["provider_keys"] = sorted(settings.provider_keys)
    return json.dumps(shown, default=str, sort_keys=True)
