"""The web UI's authentication flows over HTTP on a live production server (issue 10)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.compat.webui_protocol import ApiError, LiveServer, browsers, require, server, vendors

__all__ = ["browsers", "server", "vendors"]  # fixtures used by the tests below


def _user_fields(body: dict[str, Any]) -> None:
    """`LoginResponse` / `CurrentUserResponse` of api-types.ts."""
    require(body, "user_id", str), require(body, "username", str)
    assert "email" in body and "role" in body


async def test_login_me_refresh_and_logout(server: LiveServer, browsers: Any) -> None:
    """LoginPage.tsx → api.ts `login`; App.tsx `checkAuth` → `getCurrentUser` (with the
    401 → `tryRefreshToken` → retry of `fetchResponse`); `refreshToken`; App.tsx
    `handleLogout` → `logout`."""
    ui = await browsers()
    with pytest.raises(ApiError) as anonymous:
        await ui.get("/auth/me")
    assert anonymous.value.status == 401 and anonymous.value.message == "Unauthorized"
    with pytest.raises(ApiError) as wrong:
        await ui.login("alice", "not the password")
    assert (wrong.value.status, wrong.value.message) == (401, "Invalid username/email or password")

    login = await ui.login("alice")
    _user_fields(login)
    assert login["username"] == "alice" and require(login, "message", str)
    me = await ui.get("/auth/me")
    _user_fields(me)
    assert me["user_id"] == login["user_id"]

    # the access cookie is gone (expired): the client refreshes once and retries
    ui.http.cookies.delete("access_token")
    before = ui.refreshes
    assert (await ui.get("/auth/me"))["user_id"] == login["user_id"]
    assert ui.refreshes == before + 1
    assert require(await ui.request("POST", "/auth/refresh", retry=False), "message", str)

    assert require(await ui.request("POST", "/auth/logout", retry=False), "message", str)
    with pytest.raises(ApiError) as after:
        await ui.get("/auth/me")
    assert after.value.status == 401  # the refresh token was revoked with the logout


async def test_invitation_register_and_guest_access(server: LiveServer, browsers: Any) -> None:
    """InvitationSignupPage.tsx: `getInvitationStatus`, `registerWithInvitation` and
    `guestAccess` (POST /auth/guest-access), each followed by `getCurrentUser`."""
    server.add_invitation("WELCOME", uses=2)
    page = await browsers()
    status = await page.request("GET", "/auth/invitation/WELCOME", retry=False)
    assert require(status, "remaining_uses", int) == 2
    assert status["invitation_code"] == "WELCOME" and "expires_at" in status

    registered = await page.request("POST", "/auth/register", {
        "invitation_code": "WELCOME", "username": "carol", "password": "carols password"},
        retry=False)
    _user_fields(registered)
    assert (await page.get("/auth/me"))["username"] == "carol"

    guest_page = await browsers()
    guest = await guest_page.request("POST", "/auth/guest-access",
                                     {"invitation_code": "WELCOME"}, retry=False)
    _user_fields(guest)
    assert guest["username"].startswith("user_") and guest["email"] is None
    assert guest["message"] == "Guest access granted" and guest["is_guest"] is True
    assert (await guest_page.get("/auth/me"))["user_id"] == guest["user_id"]
    # a guest has no password: it cannot log in elsewhere
    with pytest.raises(ApiError) as no_login:
        await (await browsers()).login(guest["username"], "anything at all")
    assert no_login.value.status == 401

    # the invitation is used up: the page shows the server's message
    with pytest.raises(ApiError) as used_up:
        await (await browsers()).request("POST", "/auth/guest-access",
                                         {"invitation_code": "WELCOME"}, retry=False)
    assert used_up.value.status == 400
    assert used_up.value.message == "Invitation code is invalid or expired"
    assert used_up.value.body["error_type"] == "invitation_invalid"
    with pytest.raises(ApiError) as gone:
        await page.request("GET", "/auth/invitation/WELCOME", retry=False)
    assert gone.value.status == 404
