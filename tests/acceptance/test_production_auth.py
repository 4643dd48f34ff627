"""Production scenario P9: authentication, ownership and limits; the AUTH-5 route matrix."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from tests.acceptance.production_client import Prod, production

RANDOM_RUN = "wf_" + "0" * 32

# Every route of the app. Run routes (path or body run id) carry the request to send; the others
# say whether they need a user (anonymous → 401) or are public. A new route without an entry
# fails `test_route_matrix_covers_every_route`.
RUN = "run"
USER = "user"
PUBLIC = "public"


def run_matrix(run: str, iid: str) -> dict[tuple[str, str], tuple[str, str, Any]]:
    """(method, route template) → (method, concrete path, body) for every run route."""
    p = f"/workflow/{run}"
    respond = {"workflow_run_id": run, "interaction_id": iid,
               "response": {"selected_indices": [0]}}
    return {
        ("POST", "/workflow/respond"): ("POST", "/workflow/respond", respond),
        ("POST", "/workflow/retry"): ("POST", "/workflow/retry",
                                      {"workflow_run_id": run, "target_module": "select_pet_type"}),
        ("POST", "/workflow/jump"): ("POST", "/workflow/jump",
                                     {"workflow_run_id": run, "target_step_id": "user_input",
                                      "target_module_name": "select_pet_type"}),
        ("POST", "/workflow/jump-to-interaction"): (
            "POST", "/workflow/jump-to-interaction", {"workflow_run_id": run, "interaction_id": iid}),
        ("POST", "/workflow/{workflow_run_id}/resume"): ("POST", f"{p}/resume", {}),
        ("POST", "/workflow/{workflow_run_id}/cancel"): ("POST", f"{p}/cancel", None),
        ("POST", "/workflow/{workflow_run_id}/sub-action"): (
            "POST", f"{p}/sub-action", {"interaction_id": iid, "sub_action_id": "regenerate_scenes"}),
        ("GET", "/workflow/{workflow_run_id}/stream"): ("GET", f"{p}/stream", None),
        ("POST", "/workflow/{workflow_run_id}/stream/respond"): (
            "POST", f"{p}/stream/respond", {"interaction_id": iid,
                                            "response": {"selected_indices": [0]}}),
        ("GET", "/workflow/{workflow_run_id}/state"): ("GET", f"{p}/state", None),
        ("GET", "/workflow/{workflow_run_id}/status"): ("GET", f"{p}/status", None),
        ("GET", "/workflow/{workflow_run_id}/events"): ("GET", f"{p}/events", None),
        ("GET", "/workflow/{workflow_run_id}/interaction-history"): (
            "GET", f"{p}/interaction-history", None),
        ("GET", "/workflow/{workflow_run_id}/interaction/{interaction_id}/data"): (
            "GET", f"{p}/interaction/{iid}/data", None),
        ("GET", "/workflow/{workflow_run_id}/interaction/{interaction_id}/generations"): (
            "GET", f"{p}/interaction/{iid}/generations?content_type=image", None),
        ("GET", "/workflow/{workflow_run_id}/definition"): ("GET", f"{p}/definition", None),
        ("GET", "/workflow/{workflow_run_id}/media/{file_name}"): (
            "GET", f"{p}/media/gc_{'0' * 32}.png", None),
        ("GET", "/workflow/{workflow_run_id}/media/download"): ("GET", f"{p}/media/download", None),
        ("GET", "/workflow/{workflow_run_id}/media/{provider}/download"): (
            "GET", f"{p}/media/openai/download", None),
        ("GET", "/workflow/{workflow_run_id}/media/{provider}/{metadata_id}/download"): (
            "GET", f"{p}/media/openai/cgm_{'0' * 32}/download", None),
        ("POST", "/workflow/{workflow_run_id}/media/preview"): (
            "POST", f"{p}/media/preview", {"provider": "openai", "action_type": "txt2img"}),
        ("DELETE", "/workflow/{workflow_run_id}"): ("DELETE", p, None),
        ("POST", "/workflow/{workflow_run_id}/reset"): ("POST", f"{p}/reset", None),
        # issue 10: the web UI's routes
        ("POST", "/workflow/{workflow_run_id}/resume/confirm"): (
            "POST", f"{p}/resume/confirm", {"workflow_content": {"workflow_id": "cuddle_crew"}}),
        ("GET", "/workflow/{workflow_run_id}/state/v2"): ("GET", f"{p}/state/v2", None),
        ("GET", "/workflow/{workflow_run_id}/state/v2/stream"): (
            "GET", f"{p}/state/v2/stream", None),
        ("GET", "/workflow/{workflow_run_id}/state/stream"): ("GET", f"{p}/state/stream", None),
        ("GET", "/workflow/{workflow_run_id}/status-display"): (
            "GET", f"{p}/status-display", None),
        ("GET", "/workflow/{workflow_run_id}/tokens"): ("GET", f"{p}/tokens", None),
        ("GET", "/workflow/{workflow_run_id}/files"): ("GET", f"{p}/files", None),
        ("GET", "/workflow/{workflow_run_id}/files/download"): ("GET", f"{p}/files/download", None),
        ("GET", "/workflow/{workflow_run_id}/files/{file_id}"): (
            "GET", f"{p}/files/wff_{'0' * 32}", None),
        ("GET", "/workflow/{workflow_run_id}/files/{category}/download"): (
            "GET", f"{p}/files/outputs/download", None),
        ("GET", "/workflow/{workflow_run_id}/files/{category}/{file_id}"): (
            "GET", f"{p}/files/outputs/wff_{'0' * 32}", None),
        ("GET", "/workflow/{workflow_run_id}/files/{category}/{step_id}/download"): (
            "GET", f"{p}/files/outputs/user_input/download", None),
        ("GET", "/workflow/{workflow_run_id}/files/{category}/{step_id}/{group_id}/download"): (
            "GET", f"{p}/files/outputs/user_input/g1/download", None),
        ("GET", "/workflow/{workflow_run_id}/files/{category}/{step_id}/{group_id}/{file_id}"): (
            "GET", f"{p}/files/outputs/user_input/g1/wff_{'0' * 32}", None),
        ("GET", "/workflow/{workflow_run_id}/api-calls"): ("GET", f"{p}/api-calls", None),
        ("GET", "/workflow/{workflow_run_id}/api-calls/{group_id}"): (
            "GET", f"{p}/api-calls/g1", None),
        ("GET", "/workflow/{workflow_run_id}/media/{provider}/{metadata_id}/{content_id}"): (
            "GET", f"{p}/media/openai/cgm_{'0' * 32}/gc_{'0' * 32}", None),
        ("POST", "/api/task"): ("POST", "/api/task", {
            "workflow_run_id": run, "interaction_id": iid, "sub_action_id": "image_generation",
            "params": {"provider": "leonardo"}}),
        ("GET", "/api/task/workflow/{workflow_run_id}"): ("GET", f"/api/task/workflow/{run}", None),
    }


def invalid_matrix(run: str, iid: str) -> dict[tuple[str, str], tuple[str, str, Any]]:
    """Every run route again, with a query or body the route would refuse (400) for its owner:
    ownership is decided first, so another user still gets the missing-run 404 (AUTH-5)."""
    p = f"/workflow/{run}"
    junk = "?limit=abc&scope=nope&download=maybe&after_sequence=x&content_type=bogus"
    return {
        ("POST", "/workflow/respond"): ("POST", "/workflow/respond", {
            "workflow_run_id": run, "interaction_id": 7, "response": "not an object"}),
        ("POST", "/workflow/retry"): ("POST", "/workflow/retry",
                                      {"workflow_run_id": run, "target_module": 5}),
        ("POST", "/workflow/jump"): ("POST", "/workflow/jump",
                                     {"workflow_run_id": run, "target_step_id": []}),
        ("POST", "/workflow/jump-to-interaction"): (
            "POST", "/workflow/jump-to-interaction", {"workflow_run_id": run}),
        ("POST", "/workflow/{workflow_run_id}/resume"): ("POST", f"{p}/resume",
                                                         {"ai_config": "not an object"}),
        ("POST", "/workflow/{workflow_run_id}/cancel"): ("POST", f"{p}/cancel{junk}", [1]),
        ("POST", "/workflow/{workflow_run_id}/sub-action"): (
            "POST", f"{p}/sub-action", {"interaction_id": iid, "params": "x"}),
        ("GET", "/workflow/{workflow_run_id}/stream"): ("GET", f"{p}/stream{junk}", None),
        ("POST", "/workflow/{workflow_run_id}/stream/respond"): (
            "POST", f"{p}/stream/respond", {"workflow_run_id": RANDOM_RUN, "interaction_id": 1}),
        ("GET", "/workflow/{workflow_run_id}/state"): ("GET", f"{p}/state{junk}", None),
        ("GET", "/workflow/{workflow_run_id}/status"): ("GET", f"{p}/status{junk}", None),
        ("GET", "/workflow/{workflow_run_id}/events"): ("GET", f"{p}/events{junk}", None),
        ("GET", "/workflow/{workflow_run_id}/interaction-history"): (
            "GET", f"{p}/interaction-history{junk}", None),
        ("GET", "/workflow/{workflow_run_id}/interaction/{interaction_id}/data"): (
            "GET", f"{p}/interaction/{iid}/data{junk}", None),
        ("GET", "/workflow/{workflow_run_id}/interaction/{interaction_id}/generations"): (
            "GET", f"{p}/interaction/{iid}/generations?content_type=bogus", None),
        ("GET", "/workflow/{workflow_run_id}/definition"): ("GET", f"{p}/definition{junk}", None),
        ("GET", "/workflow/{workflow_run_id}/media/{file_name}"): (
            "GET", f"{p}/media/not-a-file-name{junk}", None),
        ("GET", "/workflow/{workflow_run_id}/media/download"): (
            "GET", f"{p}/media/download{junk}", None),
        ("GET", "/workflow/{workflow_run_id}/media/{provider}/download"): (
            "GET", f"{p}/media/no-such-provider/download{junk}", None),
        ("GET", "/workflow/{workflow_run_id}/media/{provider}/{metadata_id}/download"): (
            "GET", f"{p}/media/openai/not-an-id/download{junk}", None),
        ("POST", "/workflow/{workflow_run_id}/media/preview"): (
            "POST", f"{p}/media/preview", {"provider": 5}),
        ("DELETE", "/workflow/{workflow_run_id}"): ("DELETE", f"{p}{junk}", None),
        ("POST", "/workflow/{workflow_run_id}/reset"): ("POST", f"{p}/reset{junk}", "x"),
        # issue 10: the web UI's routes
        ("POST", "/workflow/{workflow_run_id}/resume/confirm"): (
            "POST", f"{p}/resume/confirm", {"workflow_content": 5}),
        ("GET", "/workflow/{workflow_run_id}/state/v2"): ("GET", f"{p}/state/v2{junk}", None),
        ("GET", "/workflow/{workflow_run_id}/state/v2/stream"): (
            "GET", f"{p}/state/v2/stream?poll_interval=abc", None),
        ("GET", "/workflow/{workflow_run_id}/state/stream"): (
            "GET", f"{p}/state/stream?poll_interval=0", None),
        ("GET", "/workflow/{workflow_run_id}/status-display"): (
            "GET", f"{p}/status-display{junk}", None),
        ("GET", "/workflow/{workflow_run_id}/tokens"): ("GET", f"{p}/tokens{junk}", None),
        ("GET", "/workflow/{workflow_run_id}/files"): ("GET", f"{p}/files?since=yesterday", None),
        ("GET", "/workflow/{workflow_run_id}/files/download"): (
            "GET", f"{p}/files/download{junk}", None),
        ("GET", "/workflow/{workflow_run_id}/files/{file_id}"): (
            "GET", f"{p}/files/not-a-file{junk}", None),
        ("GET", "/workflow/{workflow_run_id}/files/{category}/download"): (
            "GET", f"{p}/files/nope/download{junk}", None),
        ("GET", "/workflow/{workflow_run_id}/files/{category}/{file_id}"): (
            "GET", f"{p}/files/nope/not-a-file{junk}", None),
        ("GET", "/workflow/{workflow_run_id}/files/{category}/{step_id}/download"): (
            "GET", f"{p}/files/nope/nope/download{junk}", None),
        ("GET", "/workflow/{workflow_run_id}/files/{category}/{step_id}/{group_id}/download"): (
            "GET", f"{p}/files/nope/nope/nope/download{junk}", None),
        ("GET", "/workflow/{workflow_run_id}/files/{category}/{step_id}/{group_id}/{file_id}"): (
            "GET", f"{p}/files/nope/nope/nope/not-a-file{junk}", None),
        ("GET", "/workflow/{workflow_run_id}/api-calls"): ("GET", f"{p}/api-calls{junk}", None),
        ("GET", "/workflow/{workflow_run_id}/api-calls/{group_id}"): (
            "GET", f"{p}/api-calls/nope{junk}", None),
        ("GET", "/workflow/{workflow_run_id}/media/{provider}/{metadata_id}/{content_id}"): (
            "GET", f"{p}/media/openai/not-an-id/not-a-content{junk}", None),
        ("POST", "/api/task"): ("POST", "/api/task", {
            "workflow_run_id": run, "interaction_id": iid, "sub_action_id": 5, "params": []}),
        ("GET", "/api/task/workflow/{workflow_run_id}"): (
            "GET", f"/api/task/workflow/{run}{junk}", None),
    }


OTHER_ROUTES: dict[tuple[str, str], str] = {
    ("POST", "/auth/register"): PUBLIC, ("POST", "/auth/login"): PUBLIC,
    ("POST", "/auth/refresh"): PUBLIC, ("POST", "/auth/logout"): PUBLIC,
    ("GET", "/auth/invitation/{code}"): PUBLIC, ("GET", "/models"): PUBLIC,
    ("GET", "/health"): PUBLIC,
    ("POST", "/auth/logout-all"): USER, ("GET", "/auth/me"): USER,
    ("POST", "/auth/access-keys"): USER, ("GET", "/auth/access-keys"): USER,
    ("DELETE", "/auth/access-keys/{access_key_id}"): USER,
    ("POST", "/workflow/start"): USER, ("POST", "/workflow/start/confirm"): USER,
    ("POST", "/workflow/start/{workflow_version_id}"): USER, ("GET", "/workflow/check"): USER,
    ("GET", "/workflow-templates"): USER, ("GET", "/workflow-templates/{template_id}"): USER,
    ("GET", "/workflow-templates/{template_id}/versions/latest"): USER,
    ("GET", "/workflow-templates/{template_id}/versions/{workflow_version_id}"): USER,
    ("GET", "/workflows/active"): USER, ("GET", "/workflows/all"): USER,
    ("POST", "/auth/guest-access"): PUBLIC,
    ("POST", "/workflow-templates/global/publish"): USER,
    ("POST", "/workflow-templates/{template_id}/versions/{version_id}/clone"): USER,
    # task-id routes: ownership (another user's task → the unknown-task 404) is tested in
    # tests/acceptance/test_production_media_jobs.py, where tasks exist
    ("GET", "/api/task/{task_id}"): USER, ("GET", "/api/task/{task_id}/stream"): USER,
}


def app_routes(prod: Prod) -> set[tuple[str, str]]:
    out = set()
    for route in prod.app.routes:
        if route.path.startswith("/schema"):
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        for method in route.methods:
            if method not in ("OPTIONS", "HEAD"):
                out.add((method, path))
    return out


async def _send(prod: Prod, user: str | None, method: str, path: str, body: Any) -> httpx.Response:
    return await prod.request(method, path, user, body)


async def test_route_matrix_bob_404_anonymous_401(secantus_uri: str,
                                                  cuddle_workflow: dict[str, Any]) -> None:
    """[AUTH-5] / [ACC-P9-1]: every run route as bob → the same 404 body as a random id;
    anonymous → 401; the matrix covers every registered route."""
    async with production(secantus_uri) as prod:
        r = await prod.start(cuddle_workflow)
        run, iid = r["workflow_run_id"], r["interaction_request"]["interaction_id"]
        matrix = run_matrix(run, iid)
        assert app_routes(prod) == set(matrix) | set(OTHER_ROUTES), \
            "a route is missing from the AUTH-5 matrix"
        random_matrix = run_matrix(RANDOM_RUN, iid)
        for key, (method, path, body) in matrix.items():
            as_bob = await _send(prod, "bob", method, path, body)
            assert as_bob.status_code == 404, (key, as_bob.status_code, as_bob.text)
            _, rpath, rbody = random_matrix[key]
            as_random = await _send(prod, "alice", method, rpath, rbody)
            assert as_random.status_code == 404, (key, as_random.text)
            assert as_bob.content == as_random.content, key
            anonymous = await _send(prod, None, method, path, body)
            assert anonymous.status_code == 401, key
            assert anonymous.json() == {"error": "Unauthorized", "error_type": "unauthorized",
                                        "details": {}, "detail": "Unauthorized"}
        for (method, template), kind in OTHER_ROUTES.items():
            if kind != USER:
                continue
            path = template.replace("{", "x").replace("}", "")
            anonymous = await _send(prod, None, method, path, None)
            assert anonymous.status_code == 401, (method, template)
        # alice's run is untouched by all of bob's attempts
        status = await prod.ok("GET", f"/workflow/{run}/status")
        assert status["interaction_request"]["interaction_id"] == iid
        assert prod.db.events.count_documents({"workflow_run_id": run}) == \
            len(await prod.events(run, "all"))


async def test_ownership_is_decided_before_query_and_body(secantus_uri: str,
                                                          cuddle_workflow: dict[str, Any]) -> None:
    """[AUTH-5] Every run route with another user's run and an invalid query or body answers
    the missing-run 404, byte for byte; the owner gets the route's own 400 (so the input really
    is invalid) or, where a route ignores it, anything but a 404."""
    async with production(secantus_uri) as prod:
        r = await prod.start(cuddle_workflow)
        run, iid = r["workflow_run_id"], r["interaction_request"]["interaction_id"]
        matrix = invalid_matrix(run, iid)
        assert set(matrix) == set(run_matrix(run, iid)), "a run route has no invalid-input case"
        missing = invalid_matrix(RANDOM_RUN, iid)
        refused_for_owner = 0
        for key, (method, path, body) in matrix.items():
            as_bob = await _send(prod, "bob", method, path, body)
            _, mpath, mbody = missing[key]
            as_missing = await _send(prod, "alice", method, mpath, mbody)
            assert as_bob.status_code == 404, (key, as_bob.status_code, as_bob.text)
            assert as_bob.content == as_missing.content, (key, as_bob.text, as_missing.text)
            if key[0] == "DELETE" or key[1].endswith(("/cancel", "/reset", "/stream")):
                continue  # would change alice's run or open a stream; covered above for bob
            as_owner = await _send(prod, "alice", method, path, body)
            # stored-file routes answer 404 for the owner too when nothing is there to serve
            assert as_owner.status_code != 404 or "/media/" in key[1] or "/files/" in key[1], \
                (key, as_owner.text)
            refused_for_owner += as_owner.status_code == 400
        assert refused_for_owner >= 10  # the inputs are really invalid for the owner
        status = await prod.ok("GET", f"/workflow/{run}/status")
        assert status["interaction_request"]["interaction_id"] == iid


async def test_p9_cookie_and_access_key_auth(secantus_uri: str, cuddle_workflow: dict[str, Any]) -> None:
    """[ACC-P9-2], [AUTH-1], [AUTH-3], [AUTH-4]."""
    async with production(secantus_uri) as prod:
        login = await prod.client.post("/auth/login", json={"identifier": "alice",
                                                            "password": "correct horse battery"})
        assert login.json()["message"] == "Login successful"
        cookies = login.headers.get_list("set-cookie")
        access = next(c for c in cookies if c.startswith("access_token="))
        refresh = next(c for c in cookies if c.startswith("refresh_token="))
        assert "HttpOnly" in access and "Path=/" in access and "Max-Age=3600" in access
        assert "Path=/auth" in refresh and "Max-Age=1209600" in refresh
        assert "SameSite=lax" in access
        by_cookie = await prod.client.post("/workflow/start", json={
            "project_name": "cookie", "workflow_content": cuddle_workflow, "mock": True})
        assert by_cookie.status_code == 200 and by_cookie.json()["status"] == "awaiting_input"
        # [AUTH-1] the first credential present decides: a bad Bearer beats a good cookie
        bad_bearer = await prod.client.get("/auth/me", headers={"Authorization": "Bearer nope"})
        assert bad_bearer.status_code == 401
        prod.client.cookies.clear()

        created = await prod.post("/auth/access-keys", {"name": "ci", "expires_in_days": 30})
        assert created.status_code == 201
        key = created.json()["access_key"]
        assert key.startswith("wfk_")
        stored = prod.db.access_keys.find_one({"access_key_id": created.json()["access_key_id"]})
        assert key not in str(stored) and len(stored["access_key_hash"]) == 64
        by_key = await prod.post("/workflow/start", {
            "project_name": "key", "workflow_content": cuddle_workflow, "mock": True}, user=None,
            headers={"X-Access-Key": key})
        assert by_key.status_code == 200, by_key.text
        listed = await prod.ok("GET", "/auth/access-keys")
        assert listed["access_keys"][0]["last_used_at"] is not None
        assert "access_key" not in listed["access_keys"][0]
        # another user's key cannot be revoked by bob; alice revokes it → 401
        assert (await prod.request("DELETE", f"/auth/access-keys/{created.json()['access_key_id']}",
                                   "bob")).status_code == 404
        assert (await prod.ok("DELETE", f"/auth/access-keys/{created.json()['access_key_id']}")) == \
            {"revoked": True}
        revoked = await prod.get("/auth/me", user=None, headers={"X-Access-Key": key})
        assert revoked.status_code == 401
        # an expired key → 401
        second = (await prod.post("/auth/access-keys", {"name": "old"})).json()
        past = datetime.now(timezone.utc) - timedelta(days=1)
        prod.db.access_keys.update_one({"access_key_id": second["access_key_id"]},
                                       {"$set": {"expires_at": past}})
        expired = await prod.get("/auth/me", user=None, headers={"X-Access-Key": second["access_key"]})
        assert expired.status_code == 401
        me = await prod.ok("GET", "/auth/me")
        assert me["username"] == "alice" and me["role"] == "user"


async def test_p9_mock_not_allowed_depth_and_size(secantus_uri: str,
                                                  cuddle_workflow: dict[str, Any]) -> None:
    """[ACC-P9-3], [ACC-P9-4], [WIRE-3], [WIRE-4]."""
    async with production(secantus_uri, WFE_ALLOW_MOCK_RUNS="false",
                          WFE_MAX_BODY_BYTES="4096") as prod:
        refused = await prod.post("/workflow/start", {"project_name": "p",
                                                      "workflow_content": cuddle_workflow,
                                                      "mock": True})
        assert refused.status_code == 400 and refused.json()["error_type"] == "mock_not_allowed"
        assert prod.db.workflow_runs.count_documents({}) == 0
        deep = "[" * 1000 + "]" * 1000
        nested = await prod.post("/workflow/respond", None,
                                 content=('{"workflow_run_id": "x", "interaction_id": "y", '
                                          '"response": {"value": ' + deep + '}}').encode(),
                                 headers={"content-type": "application/json"})
        assert nested.status_code == 400 and nested.json()["error_type"] == "bad_request"
        big = await prod.post("/workflow/respond", {"workflow_run_id": "x", "interaction_id": "y",
                                                    "response": {"value": "x" * 8000}})
        assert big.status_code == 413 and big.json()["error_type"] == "payload_too_large"
        malformed = await prod.post("/workflow/respond", None, content=b"{not json",
                                    headers={"content-type": "application/json"})
        assert malformed.status_code == 400 and malformed.json()["error_type"] == "bad_request"
        wrong = await prod.post("/workflow/respond", {"workflow_run_id": 5})
        assert wrong.status_code == 400 and "errors" in wrong.json()["details"]
        health = await prod.client.get("/health")
        assert health.status_code == 200
        assert health.json() == {"status": "healthy", "service": "production-server",
                                 "database": "connected"}


async def test_register_login_refresh_logout(secantus_uri: str) -> None:
    """[AUTH-2], [AUTH-3], [AUTH-6], [AUTH-7] and the register/refresh/logout routes."""
    from tests.acceptance.production_client import invitation

    async with production(secantus_uri, users=("alice",), WFE_LOGIN_MAX_FAILURES="3") as prod:
        await invitation(prod, "WELCOME", max_uses=1)
        info = await prod.ok("GET", "/auth/invitation/WELCOME", user=None)
        assert info["invitation_code"] == "WELCOME" and info["remaining_uses"] == 1
        assert (await prod.get("/auth/invitation/NOPE", user=None)).status_code == 404
        reg = await prod.post("/auth/register", {"invitation_code": "WELCOME", "username": "carol",
                                                 "password": "s3cret-pass", "email": "Carol@Example.com"},
                              user=None)
        assert reg.status_code == 201, reg.text
        assert reg.json()["email"] == "carol@example.com" and reg.json()["role"] == "user"
        stored = prod.db.users.find_one({"username": "carol"})
        assert stored["password_hash"].startswith("scrypt$16384$8$1$")
        inv = prod.db.invitation_codes.find_one({"code": "WELCOME"})
        assert inv["remaining_uses"] == 0 and inv["used_count"] == 1
        assert inv["usage_history"][0]["user_id"] == stored["user_id"]
        exhausted = await prod.post("/auth/register", {"invitation_code": "WELCOME",
                                                       "username": "dave", "password": "s3cret-pass"},
                                    user=None)
        assert exhausted.status_code == 400 and exhausted.json()["error_type"] == "invitation_invalid"
        await invitation(prod, "SECOND", max_uses=5)
        taken = await prod.post("/auth/register", {"invitation_code": "SECOND",
                                                   "username": "dave", "password": "s3cret-pass",
                                                   "email": "carol@EXAMPLE.com"}, user=None)
        assert taken.status_code == 409 and taken.json()["error_type"] == "user_exists"
        bad_name = await prod.post("/auth/register", {"invitation_code": "SECOND",
                                                      "username": "no spaces", "password": "s3cret-pass"},
                                   user=None)
        assert bad_name.status_code == 400
        prod.client.cookies.clear()
        # login by email, case-insensitive; failures are 401 with one message, then 429
        by_email = await prod.post("/auth/login", {"identifier": "CAROL@example.com",
                                                   "password": "s3cret-pass"}, user=None)
        assert by_email.status_code == 200
        refresh_token = by_email.cookies.get("refresh_token")
        prod.client.cookies.clear()
        for _ in range(3):
            failed = await prod.post("/auth/login", {"identifier": "carol", "password": "wrong-pass"},
                                     user=None)
            assert failed.status_code == 401
            assert failed.json()["error"] == "Invalid username/email or password"
        limited = await prod.post("/auth/login", {"identifier": "carol", "password": "s3cret-pass"},
                                  user=None)
        assert limited.status_code == 429 and limited.json()["error_type"] == "rate_limited"
        # refresh rotation: a new pair; the rotated token still works inside the grace window
        prod.client.cookies.set("refresh_token", refresh_token, path="/auth")
        first = await prod.post("/auth/refresh", user=None)
        assert first.status_code == 200 and first.json() == {"message": "Token refreshed"}
        new_refresh = first.cookies.get("refresh_token")
        assert new_refresh and new_refresh != refresh_token
        record = prod.db.refresh_tokens.find_one({"token_id": {"$exists": True},
                                                  "rotated_at": {"$ne": None}})
        assert record["successor_token_id"] is not None
        prod.client.cookies.clear()
        prod.client.cookies.set("refresh_token", refresh_token, path="/auth")
        grace = await prod.post("/auth/refresh", user=None)
        assert grace.status_code == 200
        # logout revokes the presented token and clears cookies
        prod.client.cookies.clear()
        prod.client.cookies.set("refresh_token", new_refresh, path="/auth")
        out = await prod.post("/auth/logout", user=None)
        assert out.json() == {"message": "Logged out"}
        assert any("access_token=" in c and "Max-Age=0" in c for c in out.headers.get_list("set-cookie"))
        prod.client.cookies.clear()
        prod.client.cookies.set("refresh_token", new_refresh, path="/auth")
        assert (await prod.post("/auth/refresh", user=None)).status_code == 401
        prod.client.cookies.clear()
        # logout-all revokes every refresh token of the user
        everything = await prod.ok("POST", "/auth/logout-all")
        assert everything == {"message": "Logged out from all sessions"}
        assert prod.db.refresh_tokens.count_documents(
            {"user_id": prod.user_ids["alice"], "revoked_at": None}) == 0


async def test_refresh_after_grace_window_is_refused(secantus_uri: str) -> None:
    """[AUTH-3] a rotated refresh token presented after the grace window → 401."""
    async with production(secantus_uri, users=("alice",), WFE_REFRESH_ROTATION_GRACE_S="0") as prod:
        login = await prod.post("/auth/login", {"identifier": "alice",
                                                "password": "correct horse battery"}, user=None)
        token = login.cookies.get("refresh_token")
        prod.client.cookies.clear()
        prod.client.cookies.set("refresh_token", token, path="/auth")
        assert (await prod.post("/auth/refresh", user=None)).status_code == 200
        prod.client.cookies.clear()
        prod.client.cookies.set("refresh_token", token, path="/auth")
        assert (await prod.post("/auth/refresh", user=None)).status_code == 401
