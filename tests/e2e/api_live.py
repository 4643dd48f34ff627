"""Both servers live on free loopback ports, sharing one user database, with a logged-in user.

The production server runs on a fresh database of the secantusdb wire-protocol server; the
virtual server checks tokens against that same user database (revocation, issue 15), so one
access token from a real `POST /auth/login` is accepted by both. Used by the schemathesis tests,
which need real sockets because schemathesis talks HTTP to a URL.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from engine.vendor_settings import url_settings
from production_server.admin import create_user
from production_server.app import create_app as production_app
from tests.acceptance.production_client import PASSWORD, SECRET, make_settings
from tests.e2e.virtual_live import LiveServer
from virtual_server.app import create_app as virtual_app
from virtual_server.settings import load_settings as virtual_settings

USERNAME = "schema_tester"  # the production run's user (its access key)
VIRTUAL_USER = "schema_previewer"  # the virtual run's user (its access token)


@dataclass(frozen=True)
class LiveApis:
    production: str
    virtual: str
    access_key: str  # survives the production run's `logout-all` (keys are revoked one by one)
    access_token: str  # another user's, from a login before any run (the runs' failed logins
    #                    trip the login rate limit for 127.0.0.1)
    services: Any  # the production server's services (its adapter, ids and loop)


#: live providers as the servers build them, without keys, their vendors at a closed local port:
#: a live call fails the way it does on a server without keys, and nothing leaves the machine
NO_VENDOR = dict.fromkeys(url_settings(), "http://127.0.0.1:9")


def _virtual(uri: str, database: str) -> Any:
    settings = virtual_settings({"WFE_JWT_SECRET": SECRET, "WFE_MONGODB_URI": uri,
                                 "WFE_MONGODB_DATABASE": database, **NO_VENDOR})
    return virtual_app(settings)


def _login(base: str, services: Any, username: str) -> str:
    """A real user and a real login: the access token of the `access_token` cookie."""
    asyncio.run_coroutine_threadsafe(
        create_user(services.adapter, username, PASSWORD, ids=services.ids),
        services.loop).result(timeout=30)
    login = httpx.post(base + "/auth/login", json={"identifier": username, "password": PASSWORD},
                       timeout=30)
    assert login.status_code == 200, login.text
    return str(login.cookies["access_token"])


def _access_key(base: str, token: str) -> str:
    key = httpx.post(base + "/auth/access-keys", json={"name": "schemathesis"}, timeout=30,
                     headers={"Authorization": "Bearer " + token})
    assert key.status_code == 201, key.text
    return str(key.json()["access_key"])


@contextmanager
def live_apis(uri: str) -> Iterator[LiveApis]:
    database = "schema_" + uuid.uuid4().hex[:12]
    prod = production_app(make_settings(uri, database, **NO_VENDOR))
    with LiveServer(prod) as production, LiveServer(_virtual(uri, database)) as virtual:
        try:
            services = prod.state.services
            key = _access_key(production.url, _login(production.url, services, USERNAME))
            yield LiveApis(production=production.url, virtual=virtual.url, access_key=key,
                           access_token=_login(production.url, services, VIRTUAL_USER),
                           services=services)
        finally:
            _drop(uri, database)


def _drop(uri: str, database: str) -> None:
    from pymongo import MongoClient

    client: Any = MongoClient(uri)
    try:
        client.drop_database(database)
    finally:
        client.close()


__all__ = ["LiveApis", "live_apis"]
