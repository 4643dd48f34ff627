"""`python -m production_server [--host H] [--port P] [--workers N]` (GEN-11; default port 9000).

Settings come from the environment once. With one worker the uvicorn server is subclassed so a
shutdown signal first cancels every execution (streams end with `cancelled {reason:
"server_shutdown"}`, PS-4) before uvicorn waits for open connections.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Sequence

import uvicorn

from engine import configure_logging, freeze_startup_heap
from production_server.app import create_app
from production_server.http_protocol import uvicorn_options
from production_server.services import Services
from production_server.settings import SettingsError, load_settings


def app_factory() -> Any:
    """Used by uvicorn's worker processes (`--workers` > 1)."""
    settings = load_settings(os.environ)
    configure_logging(settings.log_format)
    app = create_app(settings)
    freeze_startup_heap()
    return app


class _Server(uvicorn.Server):
    services: Services | None = None

    def handle_exit(self, sig: int, frame: Any) -> None:
        if self.services is not None and self.services.loop is not None:
            self.services.loop.call_soon_threadsafe(self.services.registry.cancel_all,
                                                    "server_shutdown")
        super().handle_exit(sig, frame)


def main(argv: Sequence[str] | None = None) -> int:
    try:
        settings = load_settings(os.environ)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format)
    parser = argparse.ArgumentParser(prog="python -m production_server")
    parser.add_argument("--host", default=settings.host)
    parser.add_argument("--port", type=int, default=settings.port)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    if args.workers > 1:
        if not settings.mongodb_uri:
            print("error: --workers > 1 needs WFE_MONGODB_URI (each worker would get its own "
                  "in-memory database) and a fixed WFE_JWT_SECRET", file=sys.stderr)
            return 2
        uvicorn.run("production_server.__main__:app_factory", factory=True, host=args.host,
                    port=args.port, workers=args.workers, log_config=None,
                    **uvicorn_options(settings))
        return 0
    app = create_app(settings)
    freeze_startup_heap()
    server = _Server(uvicorn.Config(app, host=args.host, port=args.port, log_config=None,
                                    **uvicorn_options(settings)))
    server.services = app.state.services
    server.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
