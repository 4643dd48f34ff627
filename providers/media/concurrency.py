"""Per-provider generation limits for the whole process (providers.md §4.2 `concurrency`).

Vendors cap parallel jobs per account; going over them earns 429s or queued jobs that eat into
the polling timeout. The registry wraps every live client it builds in `GatedMediaClient`, so the
limit holds for every caller in the process: inline sub-actions of the virtual server as well as
the production media jobs (which also queue per provider before taking a worker thread). A caller
waiting for a slot keeps reporting progress, and the engine's progress callback raises
`ProviderCancelled` once the call is cancelled, so a queued generation can be cancelled too.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterator

from engine.provider_types import (
    ContentItem,
    GenerationResult,
    PreviewInfo,
    ProgressCallback,
)

WAIT_SLICE_S = 0.25


class ProviderGate:
    """One bounded semaphore per provider id, created on first use."""

    def __init__(self) -> None:
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()

    def slot(self, provider_id: str, limit: int) -> threading.BoundedSemaphore:
        with self._lock:
            semaphore = self._slots.get(provider_id)
            if semaphore is None:
                semaphore = self._slots[provider_id] = threading.BoundedSemaphore(max(1, limit))
            return semaphore


#: the process-wide gate used by `providers.media.registry`
PROCESS_GATE = ProviderGate()


class GatedMediaClient:
    """A live media client whose generations wait for a free slot of their provider."""

    def __init__(self, inner: Any, gate: ProviderGate = PROCESS_GATE,
                 wait_slice_s: float = WAIT_SLICE_S) -> None:
        self.inner = inner
        self.provider_id: str = inner.provider_id
        self.actions: tuple[str, ...] = tuple(inner.actions)
        self.concurrency: int = int(inner.concurrency)
        self._slot = gate.slot(self.provider_id, self.concurrency)
        self._wait_slice_s = wait_slice_s

    def __getattr__(self, name: str) -> Any:  # settings, close(), vendor specifics
        return getattr(self.inner, name)

    def _gated(self, progress: ProgressCallback,
               generate: Callable[[], GenerationResult]) -> GenerationResult:
        started = time.monotonic()
        while not self._slot.acquire(timeout=self._wait_slice_s):
            progress({"status": "queued", "progress": {
                "elapsed_ms": int((time.monotonic() - started) * 1000),
                "message": f"Waiting for a free {self.provider_id} slot"}})
        try:
            return generate()
        finally:
            self._slot.release()

    def format_params(self, params: dict[str, Any]) -> dict[str, Any]:
        return self.inner.format_params(params)

    def txt2img(self, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult:
        return self._gated(progress, lambda: self.inner.txt2img(prompt, params, progress))

    def img2img(self, source_image: str, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult:
        return self._gated(progress,
                           lambda: self.inner.img2img(source_image, prompt, params, progress))

    def img2vid(self, source_image: str, prompt: str, params: dict[str, Any],
                progress: ProgressCallback) -> GenerationResult:
        return self._gated(progress,
                           lambda: self.inner.img2vid(source_image, prompt, params, progress))

    def txt2audio(self, prompt: str, params: dict[str, Any],
                  progress: ProgressCallback) -> GenerationResult:
        return self._gated(progress, lambda: self.inner.txt2audio(prompt, params, progress))

    def get_preview_info(self, action: str, params: dict[str, Any]) -> PreviewInfo:
        return self.inner.get_preview_info(action, params)

    def fetch_content(self, item: ContentItem, max_bytes: int) -> Iterator[bytes]:
        return self.inner.fetch_content(item, max_bytes)
