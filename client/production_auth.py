"""Authentication routes of the production server (wire-api.md §6.1) for `ProductionClient`.

The server answers a login with cookies; the client takes the access token from the
`access_token` cookie and sends it as `Authorization: Bearer` from then on (cookies marked
`Secure` would not travel over plain-HTTP test servers, and a header is explicit). The token is
a JWT the virtual server accepts too (same secret), so `pc.token` can authenticate a
`VirtualClient`. An access key (`wfk_…`) goes in `X-Access-Key` instead.
"""

from __future__ import annotations

from typing import Any

from client.base import BaseClient
from client.errors import ClientError
from engine import AccessKeyCreateRequest, LoginRequest, RegisterRequest


class SessionClient(BaseClient):
    """Login, keys, refresh and logout: the base of `ProductionClient`."""

    refresh_token: str | None = None

    def _keep_session(self, response: Any) -> None:
        token = response.cookies.get("access_token")
        if not token:
            raise ClientError("the server answered without an access_token cookie")
        self.token = str(token)
        self.refresh_token = response.cookies.get("refresh_token") or self.refresh_token
        self.http.cookies.clear()

    async def login(self, identifier: str, password: str) -> dict[str, Any]:
        """`POST /auth/login`; afterwards every request carries the access token."""
        response = await self.send(
            "POST", "/auth/login", LoginRequest(identifier=identifier, password=password))
        self._keep_session(response)
        return dict(response.json())

    async def register(self, invitation_code: str, username: str, password: str,
                       email: str | None = None) -> dict[str, Any]:
        """`POST /auth/register` with an invitation; logged in as the new user."""
        response = await self.send(
            "POST", "/auth/register", RegisterRequest(invitation_code=invitation_code,
                                                      username=username, password=password,
                                                      email=email))
        self._keep_session(response)
        return dict(response.json())

    def use_access_key(self, key: str) -> None:
        """Authenticate with an access key (`X-Access-Key`) instead of a token."""
        self.token, self.access_key = None, key

    async def refresh(self) -> None:
        """`POST /auth/refresh`: a new access token from the refresh token of the login."""
        if not self.refresh_token:
            raise ClientError("no refresh token: log in first")
        response = await self.send(
            "POST", "/auth/refresh", headers={"Cookie": f"refresh_token={self.refresh_token}"})
        self._keep_session(response)

    async def me(self) -> dict[str, Any]:
        return await self.call("GET", "/auth/me", into=dict[str, Any])

    async def create_access_key(self, name: str,
                                expires_in_days: int | None = None) -> dict[str, Any]:
        """`POST /auth/access-keys`; the answer shows the key (`access_key`) this once."""
        body = AccessKeyCreateRequest(name=name, expires_in_days=expires_in_days)
        return await self.call("POST", "/auth/access-keys", body,
                               into=dict[str, Any])

    async def access_keys(self) -> list[dict[str, Any]]:
        body = await self.call("GET", "/auth/access-keys",
                               into=dict[str, Any])
        return list(body.get("access_keys") or [])

    async def revoke_access_key(self, access_key_id: str) -> None:
        await self.send("DELETE", f"/auth/access-keys/{access_key_id}")

    async def logout(self) -> None:
        """`POST /auth/logout`: the refresh token is revoked; the client forgets both tokens."""
        headers = {"Cookie": f"refresh_token={self.refresh_token}"} if self.refresh_token else {}
        await self.send("POST", "/auth/logout", headers=headers)
        self.token = self.refresh_token = None

    async def logout_all(self) -> None:
        """`POST /auth/logout-all`: every access token of the user stops working."""
        await self.send("POST", "/auth/logout-all")
        self.token = self.refresh_token = None


__all__ = ["SessionClient"]
