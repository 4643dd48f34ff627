"""Per-provider generation limits for the whole process (providers/media/concurrency.py)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from engine.provider_types import GenerationError, GenerationResult, ProviderCancelled
from providers.media.concurrency import GatedMediaClient, ProviderGate
from providers.media.registry import create_media_client


class BlockingClient:
    """Generates only when released; records how many generations run at once."""

    provider_id = "stable_diffusion"
    actions = ("txt2img", "img2img")
    concurrency = 1

    def __init__(self, counter: dict[str, int], release: threading.Event,
                 fail: bool = False) -> None:
        self.counter = counter
        self.release = release
        self.fail = fail
        self.lock = threading.Lock()

    def txt2img(self, prompt: str, params: dict[str, Any], progress: Any) -> GenerationResult:
        with self.lock:
            self.counter["running"] += 1
            self.counter["peak"] = max(self.counter["peak"], self.counter["running"])
        try:
            assert self.release.wait(5)
            if self.fail:
                raise GenerationError("vendor failed")
            return GenerationResult(content=[])
        finally:
            with self.lock:
                self.counter["running"] -= 1


def test_a_provider_runs_at_most_its_concurrency_and_waiters_report_progress() -> None:
    gate, counter, release = ProviderGate(), {"running": 0, "peak": 0}, threading.Event()
    reports: list[dict[str, Any]] = []
    clients = [GatedMediaClient(BlockingClient(counter, release), gate, wait_slice_s=0.01)
               for _ in range(3)]
    threads = [threading.Thread(target=c.txt2img, args=("p", {}, reports.append))
               for c in clients]
    for thread in threads:
        thread.start()
    while len(reports) < 4:  # two callers are waiting and saying so
        threading.Event().wait(0.01)
    assert counter["running"] == 1
    release.set()
    for thread in threads:
        thread.join(5)
    assert counter == {"running": 0, "peak": 1}
    assert {r["status"] for r in reports} == {"queued"}
    assert reports[0]["progress"]["message"] == "Waiting for a free stable_diffusion slot"


def test_cancel_while_waiting_and_failures_do_not_leak_the_slot() -> None:
    gate, counter, release = ProviderGate(), {"running": 0, "peak": 0}, threading.Event()
    busy = GatedMediaClient(BlockingClient(counter, release), gate, wait_slice_s=0.01)
    holder = threading.Thread(target=busy.txt2img, args=("p", {}, lambda d: None))
    holder.start()
    while counter["running"] == 0:
        threading.Event().wait(0.01)

    def cancelled(_: dict[str, Any]) -> None:
        raise ProviderCancelled("Operation cancelled")

    waiting = GatedMediaClient(BlockingClient(counter, release), gate, wait_slice_s=0.01)
    with pytest.raises(ProviderCancelled):
        waiting.txt2img("p", {}, cancelled)
    release.set()
    holder.join(5)
    failing = GatedMediaClient(BlockingClient(counter, release, fail=True), gate)
    with pytest.raises(GenerationError):
        failing.txt2img("p", {}, lambda d: None)
    assert gate.slot("stable_diffusion", 1).acquire(blocking=False)  # the one slot is free


def test_registry_clients_share_the_process_gate() -> None:
    first = create_media_client("stable_diffusion", {"sd_forge_api_url": "http://127.0.0.1:9"})
    second = create_media_client("stable_diffusion", {"sd_forge_api_url": "http://127.0.0.1:9"})
    assert isinstance(first, GatedMediaClient) and first is not second
    assert first._slot is second._slot and first.concurrency == 1
    assert first.base_url() == "http://127.0.0.1:9"  # vendor specifics pass through
