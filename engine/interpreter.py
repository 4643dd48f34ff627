"""Interpreter settings that keep a server's event loop responsive while engine threads compute
(issue 15 item 5). The loop and the engine threads share one GIL; both functions here shorten
how long the loop can be kept waiting for it.
"""

from __future__ import annotations

import gc
import sys


def set_switch_interval(ms: float) -> None:
    """How long a thread may hold the GIL while another waits for it (Python's default 5 ms).
    The event loop releases the GIL on every socket call and then waits up to this long to get
    it back from a busy engine thread, several times per request: a shorter interval is what
    keeps `/health` and the refusals fast while engine threads compute."""
    sys.setswitchinterval(ms / 1000)


def freeze_startup_heap() -> None:
    """Collect once, then move every object alive now (modules, the app, its routes: about
    90,000) out of the cyclic collector's reach. A full collection otherwise walks them all,
    holding the GIL for 25-65 ms, and the virtual server runs one every 2 s under sustained
    load (virtual_server/gcpause.py). For a server process only, once its app is built: the
    frozen objects are never collected, which a test process creating many apps should not
    pay for."""
    gc.collect()
    gc.freeze()
