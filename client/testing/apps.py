"""Both servers built in-process for tests, with their settings and a first user.

The apps are the real `create_app` of each server; only the environment they read is given
here (a fresh random JWT secret shared by both, mock runs allowed on production, no secure
cookies over plain HTTP) plus whatever the caller adds. Production runs on the embedded
in-memory database unless a MongoDB URI is given.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any

import jwt

PASSWORD = "wfe-test-password-1"


def new_secret() -> str:
    return secrets.token_urlsafe(48)


def access_token(secret: str, subject: str = "wfe_tester", ttl_s: int = 3600) -> str:
    """An access token for the virtual server (the claims production's login issues)."""
    now = int(time.time())
    return jwt.encode({"sub": subject, "type": "access", "iat": now, "exp": now + ttl_s},
                      secret, algorithm="HS256")


def virtual_app(secret: str, env: Mapping[str, str] | None = None, **create: Any) -> Any:
    """The virtual server's app (`create` goes to `create_app`: clock, ids, providers)."""
    from virtual_server.app import create_app
    from virtual_server.settings import load_settings

    return create_app(load_settings({"WFE_JWT_SECRET": secret, **(env or {})}), **create)


def production_app(secret: str, env: Mapping[str, str] | None = None, *,
                   mongodb_uri: str | None = None, database: str | None = None,
                   **create: Any) -> Any:
    """The production server's app on the embedded database, or on `mongodb_uri`."""
    from production_server.app import create_app
    from production_server.settings import load_settings

    base = {"WFE_JWT_SECRET": secret, "WFE_ALLOW_MOCK_RUNS": "true",
            "WFE_COOKIE_SECURE": "false",
            "WFE_MONGODB_DATABASE": database or "wfe_" + uuid.uuid4().hex[:12]}
    if mongodb_uri:
        base["WFE_MONGODB_URI"] = mongodb_uri
    return create_app(load_settings({**base, **(env or {})}), **create)


async def add_user(app: Any, username: str, password: str = PASSWORD, *,
                   admin: bool = False) -> dict[str, Any]:
    """Create a user on a started production app (the operator command's own helper)."""
    from production_server.admin import create_user

    services = app.state.services
    return dict(await create_user(services.adapter, username, password, admin=admin,
                                  ids=services.ids))


def drop_database(uri: str, database: str) -> None:
    from pymongo import MongoClient

    client: Any = MongoClient(uri)
    try:
        client.drop_database(database)
    finally:
        client.close()


__all__ = ["PASSWORD", "access_token", "add_user", "drop_database", "new_secret",
           "production_app", "virtual_app"]
