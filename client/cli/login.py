"""`wfe login`: an access token from a production server, for curl sessions and editors.

The server answers a login with cookies; the access token is the `access_token` cookie. It is a
JWT signed with the shared `WFE_JWT_SECRET`, so it works on the virtual server too.
"""

from __future__ import annotations

import httpx


class LoginError(Exception):
    """The server refused the login or could not be reached."""


def login(server: str, username: str, password: str, timeout_s: float = 10.0) -> str:
    url = server.rstrip("/") + "/auth/login"
    try:
        response = httpx.post(url, json={"identifier": username, "password": password},
                              timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise LoginError(f"cannot reach {url}: {exc}") from None
    if response.status_code != 200:
        try:
            detail = response.json().get("error") or response.text
        except ValueError:
            detail = response.text
        raise LoginError(f"login refused ({response.status_code}): {detail}")
    token = response.cookies.get("access_token")
    if not token:
        raise LoginError("the server answered without an access_token cookie")
    return str(token)
