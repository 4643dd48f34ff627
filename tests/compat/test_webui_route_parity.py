"""Route parity with the web UI's server (issue 10): every route of the reference project's
`backend/server/api/routes/*.py`, written down here by hand, exists on our production app with
the same method and path, and a concrete request path reaches the handler of that route (static
segments beat parameters, PS-6). Another user's run stays 404 where the reference says 403
(AUTH-5); that is tested with the flows (test_webui_runner.py)."""

from __future__ import annotations

import re

import pytest
from litestar import Litestar
from litestar.exceptions import MethodNotAllowedException, NotFoundException

from production_server.app import create_app
from production_server.settings import load_settings

W = "/workflow/{workflow_run_id}"
T = "/workflow-templates/{template_id}"
REFERENCE_ROUTES: list[tuple[str, str]] = [
    # routes/auth.py
    ("POST", "/auth/login"), ("GET", "/auth/invitation/{invitation_code}"),
    ("POST", "/auth/register"), ("POST", "/auth/guest-access"), ("POST", "/auth/logout"),
    ("POST", "/auth/refresh"), ("GET", "/auth/me"), ("POST", "/auth/logout-all"),
    # routes/execution.py
    ("POST", "/workflow/start"), ("POST", "/workflow/start/confirm"),
    ("POST", "/workflow/start/{workflow_version_id}"), ("GET", "/workflow/check"),
    ("POST", "/workflow/respond"), ("POST", "/workflow/retry"),
    ("POST", "/workflow/jump-to-interaction"),
    # routes/files.py
    ("GET", W + "/files"), ("GET", W + "/files/{file_id}"), ("GET", W + "/api-calls"),
    ("GET", W + "/api-calls/{group_id}"), ("OPTIONS", W + "/media/{content_id}.{extension}"),
    ("GET", W + "/media/{content_id}.{extension}"), ("GET", W + "/files/download"),
    ("GET", W + "/files/{category}/download"), ("GET", W + "/files/{category}/{step_id}/download"),
    ("GET", W + "/files/{category}/{step_id}/{group_id}/download"),
    ("GET", W + "/media/download"), ("GET", W + "/media/{provider}/download"),
    ("GET", W + "/media/{provider}/{metadata_id}/download"),
    ("GET", W + "/media/{provider}/{metadata_id}/{content_id}"),
    # routes/listing.py
    ("GET", "/workflow-templates"), ("GET", T + "/versions/latest"),
    ("GET", T + "/versions/{version_id}"), ("GET", T),
    ("POST", T + "/versions/{version_id}/clone"), ("POST", "/workflow-templates/global/publish"),
    ("GET", "/workflows/active"), ("GET", "/workflows/all"),
    # routes/management.py
    ("GET", W + "/status"), ("POST", W + "/resume"), ("POST", W + "/resume/confirm"),
    ("GET", W + "/events"), ("GET", W + "/interaction-history"),
    ("GET", W + "/interaction/{interaction_id}/data"), ("DELETE", W), ("POST", W + "/reset"),
    ("GET", W + "/tokens"), ("GET", W + "/status-display"),
    # routes/media.py, routes/models.py
    ("POST", W + "/media/preview"), ("GET", "/models"),
    # routes/state.py
    ("GET", W + "/state"), ("GET", W + "/state/v2"), ("GET", W + "/state/v2/stream"),
    ("GET", W + "/definition"), ("GET", W + "/state/stream"),
    # routes/streaming.py
    ("GET", W + "/stream"), ("POST", W + "/stream/respond"), ("POST", W + "/cancel"),
    ("POST", W + "/sub-action"), ("GET", W + "/interaction/{interaction_id}/generations"),
    # routes/tasks.py (router prefix /api/task)
    ("POST", "/api/task"), ("GET", "/api/task/{task_id}"), ("GET", "/api/task/{task_id}/stream"),
    ("GET", "/api/task/workflow/{workflow_run_id}"),
]


def shape(template: str) -> str:
    """A path template with every parameterised segment reduced to `{}`."""
    return "/".join("{}" if "{" in part else part for part in template.split("/"))


def sample(template: str) -> str:
    """A concrete request path for a template (`{content_id}.{extension}` → `c_x.png`)."""
    path = template.replace("{content_id}.{extension}", "gc_sample.png")
    return re.sub(r"\{(\w+)\}", lambda m: "x_" + m.group(1), path)


def missing_routes(app: Litestar, routes: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Reference routes whose sample request does not reach a handler of the same shape."""
    missing = []
    for method, template in routes:
        try:
            found = app.asgi_router.handle_routing(sample(template), method)  # type: ignore[arg-type]
        except (NotFoundException, MethodNotAllowedException):
            missing.append((method, template))
            continue
        if shape(re.sub(r"\{(\w+):\w+\}", r"{\1}", found[-1])) != shape(template):
            missing.append((method, template))
    return missing


@pytest.fixture(scope="module")
def app() -> Litestar:
    return create_app(load_settings({}))


def test_every_reference_route_exists(app: Litestar) -> None:
    """Each of the reference server's 63 routes is served, by the handler of the same path."""
    assert len(REFERENCE_ROUTES) == len(set(REFERENCE_ROUTES)) == 63
    assert missing_routes(app, REFERENCE_ROUTES) == []


def test_the_parity_check_catches_a_missing_route(app: Litestar) -> None:
    """The check can fail: routes we do not have, or a path caught by another handler."""
    invented = [("GET", W + "/no-such-route"), ("PUT", W + "/state"),
                ("GET", W + "/files/{file_id}/raw")]
    assert missing_routes(app, REFERENCE_ROUTES + invented) == invented
