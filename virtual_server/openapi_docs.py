"""The docs page at `/schema` (and `/schema/swagger`): Swagger UI with its scripts, style and
icon served by this server from the `swagger-ui-py` package, so the page works offline (the
production server has the same module: servers never import each other, GEN-4).

Litestar's render plugins point at CDNs by default; here every URL the page references is one
of this server's `/schema/assets/<name>` routes (an allow-list of the package's dist files).
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import Any, Callable

from litestar import Request, Router, get
from litestar.exceptions import NotFoundException
from litestar.openapi.plugins import JsonRenderPlugin, OpenAPIRenderPlugin, SwaggerRenderPlugin
from litestar.params import FromPath
from litestar.response import File

ASSETS = {"swagger-ui-bundle.js": "text/javascript",
          "swagger-ui-standalone-preset.js": "text/javascript",
          "swagger-ui.css": "text/css",
          "favicon-32x32.png": "image/png"}
CACHE = "public, max-age=86400"


def assets_dir() -> Path:
    """The dist folder of the installed Swagger UI (found without importing the package)."""
    spec = find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed (pip install -e .)")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


@get("/assets/{name:str}", include_in_schema=False, sync_to_thread=False)
def docs_asset(name: FromPath[str]) -> File:
    if name not in ASSETS:
        raise NotFoundException()
    return File(assets_dir() / name, media_type=ASSETS[name], content_disposition_type="inline",
                headers={"Cache-Control": CACHE})


Finish = Callable[[dict[str, Any]], dict[str, Any]]


class _Finished:
    """Renders the schema as `finish` completes it (once: the schema never changes)."""

    finish: Finish | None = None
    _done: tuple[int, dict[str, Any]] | None = None

    def finished(self, openapi: dict[str, Any]) -> dict[str, Any]:
        if self.finish is None:
            return openapi
        if self._done is None or self._done[0] != id(openapi):
            self._done = (id(openapi), self.finish(openapi))
        return self._done[1]


class LocalJson(_Finished, JsonRenderPlugin):
    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, self.finished(openapi_schema))


class LocalSwagger(_Finished, SwaggerRenderPlugin):
    """Swagger UI whose page loads everything from this server."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return super().render(request, self.finished(openapi_schema))

    def __init__(self, base: str) -> None:
        assets = base.rstrip("/") + "/assets/"
        super().__init__(js_url=assets + "swagger-ui-bundle.js",
                         css_url=assets + "swagger-ui.css",
                         standalone_preset_js_url=assets + "swagger-ui-standalone-preset.js",
                         favicon=f"<link rel='icon' type='image/png' "
                                 f"href='{assets}favicon-32x32.png'>",
                         path=["/", "/swagger"])

    def receive_router(self, router: Router) -> None:
        super().receive_router(router)
        router.register(docs_asset)


def docs_plugins(base: str, finish: Finish | None = None) -> list[OpenAPIRenderPlugin]:
    """Swagger UI at `<base>` and `<base>/swagger`, the schema at `<base>/openapi.json`; both
    show the schema as `finish` completes it."""
    swagger, schema = LocalSwagger(base), LocalJson()
    swagger.finish = schema.finish = finish
    return [swagger, schema]


__all__ = ["ASSETS", "LocalSwagger", "assets_dir", "docs_asset", "docs_plugins"]
