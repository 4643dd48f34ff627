"""`python -m virtual_server --host H --port P --workers N` (GEN-11; default port 9001)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Mapping

import uvicorn

from engine import configure_logging, freeze_startup_heap
from virtual_server.http_protocol import uvicorn_options
from virtual_server.settings import SettingsError, VirtualSettings, describe, load_settings

log = logging.getLogger("virtual_server")


def serving_settings(env: Mapping[str, str]) -> VirtualSettings:
    """The settings of a server started from this entry point: unless `WFE_ENGINE_PROCESSES`
    says otherwise, the JSON routes run in one engine process per core (issue 15)."""
    settings = load_settings(env)
    if settings.engine_processes is None:
        settings = settings.replace(engine_processes=os.cpu_count() or 1)
    return settings


def app_factory() -> object:
    """Used by uvicorn in each worker process: settings come from the environment."""
    from virtual_server.app import create_app

    settings = serving_settings(os.environ)
    configure_logging(settings.log_format)  # worker processes do not inherit the parent's
    app = create_app(settings)
    freeze_startup_heap()
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m virtual_server",
                                     description="Run the virtual (live preview) server.")
    parser.add_argument("--host", default=None, help="listen address (default WFE_HOST or 0.0.0.0)")
    parser.add_argument("--port", type=int, default=None, help="listen port (default WFE_PORT or 9001)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(os.environ)
    except SettingsError as exc:
        print(f"virtual_server: invalid settings: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_format)
    log.info("virtual server settings: %s", describe(settings))
    uvicorn.run("virtual_server.__main__:app_factory", factory=True,
                host=args.host or settings.host, port=args.port or settings.port,
                workers=max(1, args.workers), log_level="info", log_config=None,
                **uvicorn_options(settings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
