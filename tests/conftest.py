"""Shared fixtures: the real cuddle_crew workflow and engines wired like the servers wire them."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

from db.pipeline_eval import MongomockPipelineEvaluator
from db.virtual_store import VirtualStore
from engine.clock import FixedClock
from engine.content_cache import BoundedLru
from engine.ids import SequentialIds
from engine.modules.registry import default_registry
from engine.processor import WorkflowEngine
from engine.settings import EngineSettings
from engine.upload import load_workflow_folder
from providers.provider_set import DefaultProviderSet

ROOT = Path(__file__).resolve().parents[1]

#: CI's second run (`WFE_CACHES=off`, .ci/run): every process-local cache (README "Settings")
#: is built disabled, whatever the code asks for, so the suite shows that no answer depends on
#: a hit. Tests of the caches themselves (marked `caches`) keep them on.
CACHES_OFF = os.environ.get("WFE_CACHES", "").strip().lower() in ("0", "false", "no", "off")
_CACHE_INIT = BoundedLru.__init__  # every process-local cache (store, workflow, fold) is one


def _disabled_cache(self: Any, enabled: bool, max_bytes: int, max_entries: int) -> None:
    _CACHE_INIT(self, False, max_bytes, max_entries)


if CACHES_OFF:  # module level, so caches built by session fixtures are off too
    BoundedLru.__init__ = _disabled_cache  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "caches: a test of the caches themselves; it keeps them "
                                       "on in the WFE_CACHES=off run")


@pytest.fixture(autouse=True)
def _caches_marked_on(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if CACHES_OFF and request.node.get_closest_marker("caches"):
        monkeypatch.setattr(BoundedLru, "__init__", _CACHE_INIT)

#: the same switch as a value, for harness code that builds settings (production apps)
CACHES = not CACHES_OFF
CUDDLE_DIR = ROOT.parent / "shared" / "workflows" / "cuddle_crew"
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _live_forbidden(*_args: Any) -> Any:
    raise AssertionError("a live provider was constructed in a mock scenario")


def mock_only_providers() -> DefaultProviderSet:
    """A provider set whose live constructors raise (PRV-4): any live call fails the test."""
    return DefaultProviderSet(llm_factory=_live_forbidden, media_factory=_live_forbidden,
                              fetcher_factory=_live_forbidden)


@pytest.fixture(scope="session")
def cuddle_workflow() -> dict[str, Any]:
    return load_workflow_folder(CUDDLE_DIR, "workflow_v3.json")


def make_engine(*, mode: str = "production", store: Any = None, providers: Any = None,
                tick: timedelta = timedelta(milliseconds=1),
                settings: EngineSettings | None = None, ids: Any = None) -> WorkflowEngine:
    clock = FixedClock(T0, tick=tick)
    return WorkflowEngine(store=store if store is not None else VirtualStore.fresh(T0),
                          providers=providers or mock_only_providers(),
                          registry=default_registry(), pipeline=MongomockPipelineEvaluator(),
                          clock=clock, ids=ids if ids is not None else SequentialIds(),
                          settings=settings or EngineSettings(caches=CACHES),
                          mode=mode)  # type: ignore[arg-type]


@pytest.fixture
def engine_factory() -> Callable[..., WorkflowEngine]:
    return make_engine


# Session fixtures `secantus_uri` (a real MongoDB wire-protocol server) and `loop_thread`.
from tests.contract.secantus_server import loop_thread, secantus_uri  # noqa: E402,F401

# tests/plugin_project is a separate project, run by tests/client/test_plugin.py with pytester.
collect_ignore = ["plugin_project"]
