"""Test-only providers for the media job tests: a mock provider set whose media client blocks.

`GatedMedia` behaves like the mock media provider but, on each generation, reports progress and
then waits on `hub.gate`; while waiting it raises `ProviderCancelled` as soon as
`hub.cancel_probe()` says the job was cancelled (as a live client polling a vendor would).
`hub` counts calls and the largest number of generations running at once.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

from engine.provider_types import (
    GenerationResult,
    HttpFetcher,
    LLMProvider,
    MediaProvider,
    ProgressCallback,
    ProviderCancelled,
    ProviderError,
)
from providers.llm.mock import MockLLMProvider
from providers.media.mock import MockMediaProvider
from providers.media.registry import media_class


class MediaHub:
    def __init__(self, block: bool = True) -> None:
        self.gate = threading.Event()
        if not block:
            self.gate.set()
        self.started = threading.Event()
        self.cancel_probe: Callable[[], bool] = lambda: False
        self.calls = 0
        self.running = 0
        self.max_running = 0
        self._lock = threading.Lock()

    def wait_calls(self, n: int, timeout_s: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.calls >= n:
                return True
            time.sleep(0.01)
        return False


class GatedMedia:
    def __init__(self, provider_id: str, hub: MediaHub) -> None:
        self.inner = MockMediaProvider(provider_id)
        self.provider_id = provider_id
        self.actions = self.inner.actions
        self.concurrency = self.inner.concurrency
        self.hub = hub

    def format_params(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.inner.format_params(params)

    def _blocked(self, progress: ProgressCallback) -> None:
        hub = self.hub
        with hub._lock:
            hub.calls += 1
            hub.running += 1
            hub.max_running = max(hub.max_running, hub.running)
        try:
            progress({"status": "processing",
                      "progress": {"elapsed_ms": 0, "message": "Generating (gated)"}})
            hub.started.set()
            deadline = time.monotonic() + 30
            while not hub.gate.wait(0.02):
                if hub.cancel_probe():
                    raise ProviderCancelled("cancelled while generating")
                if time.monotonic() > deadline:
                    raise ProviderError("gate never opened")
        finally:
            with hub._lock:
                hub.running -= 1

    def txt2img(self, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult:
        self._blocked(progress)
        return self.inner.txt2img(prompt, params, progress)

    def img2img(self, source_image: str, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult:
        self._blocked(progress)
        return self.inner.img2img(source_image, prompt, params, progress)

    def img2vid(self, source_image: str, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult:
        self._blocked(progress)
        return self.inner.img2vid(source_image, prompt, params, progress)

    def txt2audio(self, prompt: str, params: dict[str, Any],
                  progress: ProgressCallback) -> GenerationResult:
        self._blocked(progress)
        return self.inner.txt2audio(prompt, params, progress)

    def get_preview_info(self, action: str, params: dict[str, Any]) -> Any:
        return self.inner.get_preview_info(action, params)

    def fetch_content(self, item: Any, max_bytes: int) -> Any:
        return self.inner.fetch_content(item, max_bytes)  # type: ignore[attr-defined]


class _ClassWithConcurrency:
    def __init__(self, inner: Any, concurrency: int) -> None:
        self._inner = inner
        self.provider_id = inner.provider_id
        self.actions = inner.actions
        self.concurrency = concurrency

    def get_data_schema(self, action: str) -> dict[str, Any]:
        return dict(self._inner.get_data_schema(action))

    def get_metadata(self, action: str) -> dict[str, Any]:
        return dict(self._inner.get_metadata(action))


class GatedProviderSet:
    """Mock LLM, gated mock media; `concurrency` overrides a provider's class attribute."""

    def __init__(self, hub: MediaHub, concurrency: dict[str, int] | None = None) -> None:
        self.hub = hub
        self.concurrency = concurrency or {}

    def for_call(self, mock: bool) -> "GatedProviderSet":
        return self

    def llm(self, name: str) -> LLMProvider:
        return MockLLMProvider()  # type: ignore[return-value]

    def media(self, name: str, credentials: dict[str, str]) -> MediaProvider:
        return GatedMedia(name, self.hub)  # type: ignore[return-value]

    def media_class(self, name: str) -> Any:
        info = media_class(name)
        return _ClassWithConcurrency(info, self.concurrency.get(name, info.concurrency))

    def fetcher(self) -> HttpFetcher:
        raise ProviderError("no fetcher in these tests", error_code="mock_mode")
