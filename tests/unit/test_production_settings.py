"""GEN-10 / GEN-9: production settings — defaults, parsing, rejection of invalid values."""

from __future__ import annotations

import os

import pytest

from production_server.settings import ProductionSettings, SettingsError, describe, load_settings

SECRET = "s" * 32

DEFAULTS = {
    "engine_threads": 4, "engine_queue": 8, "engine_nice": 10, "switch_interval_ms": 1.0,
    "max_json_depth": 64,
    "template_max_source_bytes": 65536, "template_max_output_bytes": 1048576,
    "template_max_iterations": 100000, "template_max_ms": 2000, "workflow_max_bytes": 8388608,
    "max_event_bytes": 4194304, "llm_stream_chunk_timeout_s": 180.0,
    "cancel_check_interval_s": 0.1, "progress_interval_s": 0.5, "sse_heartbeat_s": 15.0,
    "sse_send_timeout_s": 10.0, "llm_max_attempts": 3, "provider_timeout_s": 300.0,
    "media_base_path": "./media", "cors_origins": (), "host": "0.0.0.0", "port": 9000,
    "mongodb_uri": None, "mongodb_database": "workflow_engine", "mongo_driver": "motor",
    "mongo_write_concern": "majority", "db_call_timeout_s": 30.0, "max_body_bytes": 1048576,
    "upload_max_body_bytes": 12582912, "allow_mock_runs": False, "access_token_ttl_s": 3600,
    "refresh_token_ttl_s": 1209600, "refresh_rotation_grace_s": 60, "cookie_secure": True,
    "cookie_samesite": "lax", "cookie_domain": None, "login_max_failures": 10,
    "login_window_s": 900, "sse_max_per_user": 8, "media_queue_max": 64, "media_workers": 4,
    "task_heartbeat_s": 5.0, "task_stale_s": 60.0, "auth_cache_s": 5.0,
    "default_mock": "auto",
}

PARSED = [
    ("WFE_ENGINE_THREADS", "2", "engine_threads", 2),
    ("WFE_ENGINE_QUEUE", "0", "engine_queue", 0),
    ("WFE_ENGINE_NICE", "0", "engine_nice", 0),
    ("WFE_SWITCH_INTERVAL_MS", "0.5", "switch_interval_ms", 0.5),
    ("WFE_MAX_JSON_DEPTH", "10", "max_json_depth", 10),
    ("WFE_TEMPLATE_MAX_SOURCE_BYTES", "100", "template_max_source_bytes", 100),
    ("WFE_TEMPLATE_MAX_OUTPUT_BYTES", "100", "template_max_output_bytes", 100),
    ("WFE_TEMPLATE_MAX_ITERATIONS", "5", "template_max_iterations", 5),
    ("WFE_TEMPLATE_MAX_MS", "50", "template_max_ms", 50),
    ("WFE_WORKFLOW_MAX_BYTES", "1000", "workflow_max_bytes", 1000),
    ("WFE_MAX_EVENT_BYTES", "1000", "max_event_bytes", 1000),
    ("WFE_LLM_STREAM_CHUNK_TIMEOUT_S", "1.5", "llm_stream_chunk_timeout_s", 1.5),
    ("WFE_CANCEL_CHECK_INTERVAL_S", "0.2", "cancel_check_interval_s", 0.2),
    ("WFE_PROGRESS_INTERVAL_S", "0.25", "progress_interval_s", 0.25),
    ("WFE_SSE_HEARTBEAT_S", "3", "sse_heartbeat_s", 3.0),
    ("WFE_SSE_SEND_TIMEOUT_S", "2", "sse_send_timeout_s", 2.0),
    ("WFE_LLM_MAX_ATTEMPTS", "5", "llm_max_attempts", 5),
    ("WFE_PROVIDER_TIMEOUT_S", "9", "provider_timeout_s", 9.0),
    ("WFE_MEDIA_BASE_PATH", "/srv/media", "media_base_path", "/srv/media"),
    ("WFE_CORS_ORIGINS", "https://a.example, https://b.example", "cors_origins",
     ("https://a.example", "https://b.example")),
    ("WFE_HOST", "127.0.0.1", "host", "127.0.0.1"),
    ("WFE_PORT", "9100", "port", 9100),
    ("WFE_MONGODB_DATABASE", "wfe", "mongodb_database", "wfe"),
    ("WFE_MONGO_DRIVER", "pymongo_async", "mongo_driver", "pymongo_async"),
    ("WFE_MONGO_WRITE_CONCERN", "1", "mongo_write_concern", "1"),
    ("WFE_DB_CALL_TIMEOUT_S", "5", "db_call_timeout_s", 5.0),
    ("WFE_MAX_BODY_BYTES", "2048", "max_body_bytes", 2048),
    ("WFE_UPLOAD_MAX_BODY_BYTES", "4096", "upload_max_body_bytes", 4096),
    ("WFE_ALLOW_MOCK_RUNS", "true", "allow_mock_runs", True),
    ("WFE_ACCESS_TOKEN_TTL_S", "60", "access_token_ttl_s", 60),
    ("WFE_REFRESH_TOKEN_TTL_S", "120", "refresh_token_ttl_s", 120),
    ("WFE_REFRESH_ROTATION_GRACE_S", "0", "refresh_rotation_grace_s", 0),
    ("WFE_COOKIE_SECURE", "false", "cookie_secure", False),
    ("WFE_COOKIE_SAMESITE", "Strict", "cookie_samesite", "strict"),
    ("WFE_COOKIE_DOMAIN", "example.com", "cookie_domain", "example.com"),
    ("WFE_LOGIN_MAX_FAILURES", "3", "login_max_failures", 3),
    ("WFE_LOGIN_WINDOW_S", "30", "login_window_s", 30),
    ("WFE_SSE_MAX_PER_USER", "2", "sse_max_per_user", 2),
    ("WFE_MEDIA_QUEUE_MAX", "3", "media_queue_max", 3),
    ("WFE_MEDIA_WORKERS", "2", "media_workers", 2),
    ("WFE_TASK_HEARTBEAT_S", "0.5", "task_heartbeat_s", 0.5),
    ("WFE_TASK_STALE_S", "12", "task_stale_s", 12.0),
    ("WFE_AUTH_CACHE_S", "0", "auth_cache_s", 0.0),
    ("WFE_AUTH_CACHE_S", "2.5", "auth_cache_s", 2.5),
]

INVALID = [
    ("WFE_ENGINE_THREADS", "0"), ("WFE_ENGINE_QUEUE", "-1"), ("WFE_ENGINE_NICE", "20"),
    ("WFE_SWITCH_INTERVAL_MS", "0"), ("WFE_PORT", "70000"),
    ("WFE_PORT", "http"), ("WFE_MONGO_DRIVER", "mysql"), ("WFE_ALLOW_MOCK_RUNS", "sometimes"),
    ("WFE_COOKIE_SAMESITE", "loose"), ("WFE_PROGRESS_INTERVAL_S", "0"),
    ("WFE_SSE_HEARTBEAT_S", "-1"), ("WFE_MAX_BODY_BYTES", "0"), ("WFE_DB_CALL_TIMEOUT_S", "x"),
    ("WFE_MEDIA_QUEUE_MAX", "0"), ("WFE_MEDIA_WORKERS", "0"), ("WFE_TASK_STALE_S", "0"),
    ("WFE_AUTH_CACHE_S", "-1"), ("WFE_AUTH_CACHE_S", "soon"),
]


def test_defaults() -> None:
    """[GEN-10] every §5.1/§5.2 setting has its documented default."""
    settings = load_settings({"WFE_JWT_SECRET": SECRET})
    for field, value in DEFAULTS.items():
        assert getattr(settings, field) == value, field
    assert settings.jwt_secret == SECRET and not settings.jwt_secret_generated


@pytest.mark.parametrize(("var", "raw", "field", "value"), PARSED, ids=[p[0] for p in PARSED])
def test_parsing(var: str, raw: str, field: str, value: object) -> None:
    """[GEN-10] each variable is read into its field."""
    settings = load_settings({"WFE_JWT_SECRET": SECRET, var: raw})
    assert getattr(settings, field) == value


@pytest.mark.parametrize(("var", "raw"), INVALID, ids=[f"{v}={r}" for v, r in INVALID])
def test_invalid_values_fail_with_the_variable_name(var: str, raw: str) -> None:
    with pytest.raises(SettingsError, match=var):
        load_settings({"WFE_JWT_SECRET": SECRET, var: raw})


def test_jwt_secret_rules() -> None:
    """[GEN-10] / [AUTH-2] a short secret is refused; a deployment (URI set) needs one; the
    embedded default generates a random one so `python -m production_server` runs out of the box."""
    with pytest.raises(SettingsError, match="32 bytes"):
        load_settings({"WFE_JWT_SECRET": "short"})
    with pytest.raises(SettingsError, match="WFE_JWT_SECRET"):
        load_settings({"WFE_MONGODB_URI": "mongodb://db:27017"})
    a = load_settings({})
    b = load_settings({})
    assert a.jwt_secret_generated and len(a.jwt_secret) >= 32 and a.jwt_secret != b.jwt_secret
    with pytest.raises(SettingsError):
        ProductionSettings(jwt_secret="x" * 31)


def test_provider_keys_and_no_environment_writes() -> None:
    """[GEN-9] settings are read from the mapping given and nothing is written to os.environ."""
    before = dict(os.environ)
    settings = load_settings({"WFE_JWT_SECRET": SECRET, "OPENAI_API_KEY": "sk-x",
                              "ANTHROPIC_API_KEY": ""})
    assert settings.provider_keys == {"OPENAI_API_KEY": "sk-x"}
    assert dict(os.environ) == before
    engine = settings.engine_settings()
    assert engine.max_json_depth == 64 and engine.progress_interval_s == 0.5


def test_development_changes_defaults_not_explicit_values() -> None:
    """Issue 11: WFE_ENV=development allows mock runs and plain-http cookies unless the
    variables say otherwise; production keeps the strict defaults."""
    dev = load_settings({"WFE_JWT_SECRET": SECRET, "WFE_ENV": "development"})
    assert dev.development and dev.allow_mock_runs and not dev.cookie_secure
    strict = load_settings({"WFE_JWT_SECRET": SECRET, "WFE_ENV": "development",
                            "WFE_ALLOW_MOCK_RUNS": "false", "WFE_COOKIE_SECURE": "true"})
    assert not strict.allow_mock_runs and strict.cookie_secure
    prod = load_settings({"WFE_JWT_SECRET": SECRET})
    assert prod.env == "production" and not prod.allow_mock_runs and prod.cookie_secure
    with pytest.raises(SettingsError, match="WFE_ENV"):
        load_settings({"WFE_JWT_SECRET": SECRET, "WFE_ENV": "staging"})


def test_dev_admin_password_only_in_development() -> None:
    dev = load_settings({"WFE_JWT_SECRET": SECRET, "WFE_ENV": "development",
                         "WFE_DEV_ADMIN_PASSWORD": "pw-for-dev-1", "WFE_DEV_ADMIN_USERNAME": "boss"})
    assert (dev.dev_admin_username, dev.dev_admin_password) == ("boss", "pw-for-dev-1")
    assert "pw-for-dev-1" not in describe(dev)
    with pytest.raises(SettingsError, match="WFE_DEV_ADMIN_PASSWORD"):
        load_settings({"WFE_JWT_SECRET": SECRET, "WFE_DEV_ADMIN_PASSWORD": "pw-for-dev-1"})


def test_log_format_and_admin_tools_without_secret() -> None:
    assert load_settings({"WFE_JWT_SECRET": SECRET, "WFE_LOG_FORMAT": "json"}).log_format == "json"
    with pytest.raises(SettingsError, match="WFE_LOG_FORMAT"):
        load_settings({"WFE_JWT_SECRET": SECRET, "WFE_LOG_FORMAT": "xml"})
    tool = load_settings({"WFE_MONGODB_URI": "mongodb://db:27017"}, require_secret=False)
    assert tool.mongodb_uri == "mongodb://db:27017"


def test_default_mock_is_the_development_default_only() -> None:
    """Issue 10: without a URI and without LLM keys a start without `mock` is a mock run (the
    web UI has no mock switch); any LLM key, `false`, or a deployment (URI set) turns it off,
    and `true` is refused together with a URI."""
    dev = load_settings({})
    assert dev.default_mock == "auto" and dev.mock_by_default and dev.mock_runs_allowed
    assert not load_settings({"ANTHROPIC_API_KEY": "sk-ant"}).mock_by_default
    assert not load_settings({"WFE_DEFAULT_MOCK": "false"}).mock_by_default
    assert not load_settings({"WFE_DEFAULT_MOCK": "false"}).mock_runs_allowed
    assert load_settings({"WFE_DEFAULT_MOCK": "true", "OPENAI_API_KEY": "sk"}).mock_by_default
    deployed = load_settings({"WFE_MONGODB_URI": "mongodb://db:27017", "WFE_JWT_SECRET": SECRET})
    assert not deployed.mock_by_default and not deployed.mock_runs_allowed
    with pytest.raises(SettingsError, match="WFE_DEFAULT_MOCK"):
        load_settings({"WFE_MONGODB_URI": "mongodb://db:27017", "WFE_JWT_SECRET": SECRET,
                       "WFE_DEFAULT_MOCK": "true"})
    with pytest.raises(SettingsError, match="WFE_DEFAULT_MOCK"):
        load_settings({"WFE_DEFAULT_MOCK": "sometimes"})


def test_development_mode_is_where_starts_default_to_mock() -> None:
    """Issue 10 x issue 11: scripts/serve runs on a real local database (a URI) in development;
    there, as on the embedded database, a start without `mock` and without LLM keys is a mock
    run. A deployment (production with a URI) never defaults to mock."""
    uri = {"WFE_MONGODB_URI": "mongodb://127.0.0.1:9017", "WFE_JWT_SECRET": SECRET}
    dev = load_settings({**uri, "WFE_ENV": "development"})
    assert dev.mock_by_default and dev.mock_runs_allowed
    assert not load_settings({**uri, "WFE_ENV": "development",
                              "OPENAI_API_KEY": "sk"}).mock_by_default
    assert not load_settings(uri).mock_by_default
    assert load_settings({**uri, "WFE_ENV": "development", "WFE_DEFAULT_MOCK": "true",
                          "OPENAI_API_KEY": "sk"}).mock_by_default
