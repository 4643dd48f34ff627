"""GEN-10 for the virtual server: every setting of README §5.1/§5.3, defaults, parsing, rejection."""

from __future__ import annotations

from typing import Any

import pytest

from virtual_server.settings import SettingsError, describe, load_settings

SECRET = "s" * 32
BASE = {"WFE_JWT_SECRET": SECRET}

DEFAULTS: dict[str, Any] = {
    "engine_threads": 4, "engine_queue": 8, "engine_nice": 10, "switch_interval_ms": 1.0,
    "max_json_depth": 64,
    "template_max_source_bytes": 65536, "template_max_output_bytes": 1048576,
    "template_max_iterations": 100000, "template_max_ms": 2000, "workflow_max_bytes": 8388608,
    "max_event_bytes": 4194304, "llm_stream_chunk_timeout_s": 180.0,
    "cancel_check_interval_s": 0.1, "progress_interval_s": 0.5, "sse_heartbeat_s": 15.0,
    "sse_send_timeout_s": 10.0, "llm_max_attempts": 3, "provider_timeout_s": 300.0,
    "media_base_path": "./media", "cors_origins": (), "host": "0.0.0.0", "port": 9001,
    "auth_required": True, "max_body_bytes": 25165824, "db_max_encoded_bytes": 16777216,
    "db_max_decompressed_bytes": 67108864, "db_gzip_level": 4,
    "default_ai_config": {"provider": "openai", "model": "gpt-4o-mini"},
    "max_auto_responses": 50, "media_max_bytes": 268435456, "media_poll_interval_s": 2.0,
    "provider_urls": {}, "mongodb_uri": None, "mongodb_database": "workflow_engine",
    "mongo_driver": "motor", "auth_cache_s": 5.0, "engine_processes": None,
}

PARSED: list[tuple[str, str, str, Any]] = [
    ("WFE_ENGINE_THREADS", "2", "engine_threads", 2),
    ("WFE_ENGINE_QUEUE", "0", "engine_queue", 0),
    ("WFE_ENGINE_NICE", "0", "engine_nice", 0),
    ("WFE_SWITCH_INTERVAL_MS", "0.5", "switch_interval_ms", 0.5),
    ("WFE_MAX_JSON_DEPTH", "10", "max_json_depth", 10),
    ("WFE_TEMPLATE_MAX_SOURCE_BYTES", "100", "template_max_source_bytes", 100),
    ("WFE_TEMPLATE_MAX_OUTPUT_BYTES", "100", "template_max_output_bytes", 100),
    ("WFE_TEMPLATE_MAX_ITERATIONS", "7", "template_max_iterations", 7),
    ("WFE_TEMPLATE_MAX_MS", "9", "template_max_ms", 9),
    ("WFE_WORKFLOW_MAX_BYTES", "1000", "workflow_max_bytes", 1000),
    ("WFE_MAX_EVENT_BYTES", "1000", "max_event_bytes", 1000),
    ("WFE_LLM_STREAM_CHUNK_TIMEOUT_S", "1.5", "llm_stream_chunk_timeout_s", 1.5),
    ("WFE_CANCEL_CHECK_INTERVAL_S", "0.05", "cancel_check_interval_s", 0.05),
    ("WFE_PROGRESS_INTERVAL_S", "2", "progress_interval_s", 2.0),
    ("WFE_SSE_HEARTBEAT_S", "1", "sse_heartbeat_s", 1.0),
    ("WFE_SSE_SEND_TIMEOUT_S", "3", "sse_send_timeout_s", 3.0),
    ("WFE_LLM_MAX_ATTEMPTS", "5", "llm_max_attempts", 5),
    ("WFE_PROVIDER_TIMEOUT_S", "30", "provider_timeout_s", 30.0),
    ("WFE_MEDIA_BASE_PATH", "/tmp/m", "media_base_path", "/tmp/m"),
    ("WFE_CORS_ORIGINS", "http://a, http://b", "cors_origins", ("http://a", "http://b")),
    ("WFE_HOST", "127.0.0.1", "host", "127.0.0.1"),
    ("WFE_PORT", "9100", "port", 9100),
    ("WFE_VIRTUAL_AUTH_REQUIRED", "false", "auth_required", False),
    ("WFE_VIRTUAL_MAX_BODY_BYTES", "1024", "max_body_bytes", 1024),
    ("WFE_VIRTUAL_DB_MAX_ENCODED_BYTES", "2048", "db_max_encoded_bytes", 2048),
    ("WFE_VIRTUAL_DB_MAX_DECOMPRESSED_BYTES", "4096", "db_max_decompressed_bytes", 4096),
    ("WFE_VIRTUAL_DB_GZIP_LEVEL", "9", "db_gzip_level", 9),
    ("WFE_VIRTUAL_DEFAULT_AI_CONFIG", '{"provider": "anthropic", "model": "m"}',
     "default_ai_config", {"provider": "anthropic", "model": "m"}),
    ("WFE_MAX_AUTO_RESPONSES", "3", "max_auto_responses", 3),
    ("WFE_MEDIA_MAX_BYTES", "1000", "media_max_bytes", 1000),
    ("WFE_MEDIA_POLL_INTERVAL_S", "0.5", "media_poll_interval_s", 0.5),
    ("OPENAI_BASE_URL", "http://gateway:8080/v1/", "provider_urls",
     {"OPENAI_BASE_URL": "http://gateway:8080/v1"}),
    ("ELEVENLABS_BASE_URL", "https://el.example", "provider_urls",
     {"ELEVENLABS_BASE_URL": "https://el.example"}),
    ("WFE_MONGODB_URI", "mongodb://db:27017", "mongodb_uri", "mongodb://db:27017"),
    ("WFE_MONGODB_DATABASE", "users_db", "mongodb_database", "users_db"),
    ("WFE_MONGO_DRIVER", "pymongo_async", "mongo_driver", "pymongo_async"),
    ("WFE_AUTH_CACHE_S", "0", "auth_cache_s", 0.0),
    ("WFE_CACHES", "off", "caches", False),
    ("WFE_CACHE_MAX_BYTES", "1048576", "cache_max_bytes", 1048576),
    ("WFE_CACHE_MAX_ENTRIES", "8", "cache_max_entries", 8),
    ("WFE_ENGINE_PROCESSES", "0", "engine_processes", 0),
    ("WFE_ENGINE_PROCESSES", "3", "engine_processes", 3),
]

INVALID: list[tuple[str, str]] = [
    ("WFE_ENGINE_THREADS", "0"), ("WFE_ENGINE_THREADS", "four"), ("WFE_ENGINE_QUEUE", "-1"), ("WFE_ENGINE_NICE", "20"),
    ("WFE_SWITCH_INTERVAL_MS", "0"),
    ("WFE_MAX_JSON_DEPTH", "1"), ("WFE_TEMPLATE_MAX_MS", "0"), ("WFE_SSE_HEARTBEAT_S", "0"),
    ("WFE_SSE_SEND_TIMEOUT_S", "-2"), ("WFE_PROGRESS_INTERVAL_S", "soon"),
    ("WFE_PORT", "70000"), ("WFE_VIRTUAL_AUTH_REQUIRED", "maybe"),
    ("WFE_VIRTUAL_MAX_BODY_BYTES", "0"), ("WFE_VIRTUAL_DB_GZIP_LEVEL", "10"),
    ("WFE_VIRTUAL_DEFAULT_AI_CONFIG", "[1]"), ("WFE_VIRTUAL_DEFAULT_AI_CONFIG", "{not json"),
    ("WFE_MAX_AUTO_RESPONSES", "-1"), ("WFE_JWT_SECRET", "short"), ("WFE_HOST", "   "),
    ("WFE_MEDIA_MAX_BYTES", "0"), ("WFE_MEDIA_POLL_INTERVAL_S", "0"),
    ("OPENAI_BASE_URL", "ftp://x"), ("ANTHROPIC_BASE_URL", "not a url"),
    ("WFE_MONGO_DRIVER", "mysql"), ("WFE_AUTH_CACHE_S", "-0.5"), ("WFE_MONGODB_URI", "  "),
    ("WFE_CACHES", "sometimes"), ("WFE_CACHE_MAX_BYTES", "-1"), ("WFE_CACHE_MAX_ENTRIES", "x"),
    ("WFE_ENGINE_PROCESSES", "-1"), ("WFE_ENGINE_PROCESSES", "all"),
]


def test_gen10_defaults() -> None:
    """[GEN-10] Every virtual setting has the default of README §5.1/§5.3."""
    settings = load_settings(BASE)
    for field, value in DEFAULTS.items():
        assert getattr(settings, field) == value, field
    assert settings.provider_keys == {}
    assert settings.engine_settings().max_auto_responses == 50
    assert settings.blob_limits().max_encoded_bytes == 16777216


@pytest.mark.parametrize("var,text,field,value", PARSED, ids=[p[0] for p in PARSED])
def test_gen10_parsing(var: str, text: str, field: str, value: Any) -> None:
    """[GEN-10] Each variable is parsed into its field."""
    assert getattr(load_settings({**BASE, var: text}), field) == value


@pytest.mark.parametrize("var,text", INVALID, ids=[f"{v}={t}" for v, t in INVALID])
def test_gen10_invalid_values_fail_startup_naming_the_variable(var: str, text: str) -> None:
    """[GEN-10] An invalid value is a SettingsError that names the variable."""
    with pytest.raises(SettingsError) as caught:
        load_settings({**BASE, var: text})
    assert var in str(caught.value)


def test_gen10_secret_required_only_with_auth() -> None:
    """[VS-1][GEN-10] Auth on needs a ≥ 32-byte WFE_JWT_SECRET; auth off does not."""
    with pytest.raises(SettingsError, match="WFE_JWT_SECRET"):
        load_settings({})
    assert load_settings({"WFE_VIRTUAL_AUTH_REQUIRED": "false"}).jwt_secret is None


def test_provider_keys_and_describe_hide_secrets() -> None:
    """[GEN-9] Keys are read once into settings; the startup log line never shows them."""
    settings = load_settings({**BASE, "OPENAI_API_KEY": "sk-abcdefgh12345678", "OTHER": "x"})
    assert settings.provider_keys == {"OPENAI_API_KEY": "sk-abcdefgh12345678"}
    line = describe(settings)
    assert "sk-abcdefgh" not in line and SECRET not in line and "OPENAI_API_KEY" in line
    with_uri = describe(load_settings({**BASE, "WFE_MONGODB_URI": "mongodb://u:pw-123@db/"}))
    assert "pw-123" not in with_uri and '"mongodb_uri": "set"' in with_uri


def test_vendor_addresses_reach_the_provider_clients() -> None:
    """The base URLs and the media limits of the settings are what the server's clients use."""
    from providers.provider_set import configured_provider_set

    settings = load_settings({**BASE, "OPENAI_BASE_URL": "http://gw:1/v1",
                              "ANTHROPIC_BASE_URL": "http://gw:2",
                              "ELEVENLABS_BASE_URL": "http://gw:3",
                              "WFE_MEDIA_POLL_INTERVAL_S": "0.5", "WFE_MEDIA_MAX_BYTES": "77"})
    assert settings.engine_settings().media_max_bytes == 77
    assert settings.engine_settings().media_url_template == "/workflow/media/{sha256}.{ext}"
    providers = configured_provider_set(settings.provider_urls, settings.engine_settings(),
                                        settings.media_poll_interval_s).for_call(False)
    assert providers.llm("openai").options.base_url == "http://gw:1/v1"
    assert providers.llm("anthropic").options.base_url == "http://gw:2"
    media = providers.media("elevenlabs", {"elevenlabs_api_key": "k"})
    assert media.settings.base_url("elevenlabs") == "http://gw:3"
    assert media.settings.poll_interval_s == 0.5 and media.settings.video_poll_interval_s == 2.5
    openai_media = providers.media("openai", {"openai_api_key": "k"})
    assert openai_media.settings.base_url("openai") == "http://gw:1"


def test_settings_are_immutable() -> None:
    """[GEN-9] One immutable settings object."""
    settings = load_settings(BASE)
    with pytest.raises(AttributeError):
        settings.port = 1  # type: ignore[misc]


def test_service_caches_follow_the_setting() -> None:
    """The store, workflow and fold caches of a service are on by default and off with
    `WFE_CACHES=off` (in CI's WFE_CACHES=off run, tests/conftest.py turns them all off)."""
    from engine.clock import SystemClock
    from engine.ids import MonotonicIds
    from providers.provider_set import DefaultProviderSet
    from tests.conftest import CACHES_OFF
    from virtual_server.service import VirtualService

    for env, on in (({}, not CACHES_OFF), ({"WFE_CACHES": "off"}, False)):
        svc = VirtualService(load_settings({**BASE, **env}), clock=SystemClock(),
                             ids=MonotonicIds(), providers=DefaultProviderSet())
        assert svc.blobs.cache is not None
        assert (svc.blobs.cache.enabled, svc.workflow_checks.enabled, svc.folds.enabled) == \
            (on, on, on)


def test_the_entry_point_runs_one_engine_process_per_core() -> None:
    """An app built in-process keeps threads unless told; the server's entry point does not."""
    import os

    from virtual_server.__main__ import serving_settings

    assert serving_settings(BASE).engine_processes == os.cpu_count()
    assert serving_settings({**BASE, "WFE_ENGINE_PROCESSES": "0"}).engine_processes == 0
    assert serving_settings({**BASE, "WFE_ENGINE_PROCESSES": "5"}).engine_processes == 5
