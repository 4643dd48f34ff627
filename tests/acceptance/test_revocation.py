"""Access-token revocation on both servers sharing one user database (issue 15 item 4).

The production server runs on a fresh database of the secantusdb wire-protocol server; the
virtual server is pointed at the same database with `WFE_MONGODB_URI`. A token stops working on
both once its user is deactivated or deleted, or logs out everywhere: at once on the process that
made the change, within `WFE_AUTH_CACHE_S` on every other one (most cases here set it to 0; the
cache cases wait it out).
"""

from __future__ import annotations

import asyncio
import time
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import jwt
from litestar.testing import AsyncTestClient

from production_server.admin import deactivate_user, delete_user
from tests.acceptance.production_client import PASSWORD, SECRET, Prod, production
from tests.acceptance.virtual_support import make_app
from virtual_server.settings import load_settings

PROBE = {"virtual_db": "x"}  # past authentication the virtual server answers 400 for this blob


@asynccontextmanager
async def virtual_on(prod: Prod | None, uri: str | None,
                     cache_s: str = "0") -> AsyncIterator[AsyncTestClient[Any]]:
    env = {"WFE_JWT_SECRET": SECRET, "WFE_AUTH_CACHE_S": cache_s}
    if uri and prod is not None:
        env.update(WFE_MONGODB_URI=uri,
                   WFE_MONGODB_DATABASE=prod.services.adapter.database_name)
    async with AsyncTestClient(make_app(load_settings(env))) as client:
        yield client


async def on_virtual(client: AsyncTestClient[Any], token: str) -> int:
    response = await client.post("/workflow/state", json=PROBE,
                                 headers={"Authorization": "Bearer " + token})
    if response.status_code == 400:
        assert response.json()["result"]["error_type"] == "invalid_virtual_db"
    else:
        assert response.json()["result"]["error_type"] == "unauthorized"
    return response.status_code


async def on_production(prod: Prod, token: str) -> int:
    response = await prod.client.get("/auth/me", headers={"Authorization": "Bearer " + token})
    return response.status_code


async def test_logout_all_revokes_every_access_token_on_both_servers(secantus_uri: str) -> None:
    async with production(secantus_uri, WFE_AUTH_CACHE_S="0") as prod, \
            virtual_on(prod, secantus_uri) as virtual:
        first = prod.tokens["alice"]
        second = await prod.login("alice")  # another session of the same user
        for token in (first, second):
            assert await on_production(prod, token) == 200
            assert await on_virtual(virtual, token) == 400
        bob = prod.tokens["bob"]
        out = await prod.post("/auth/logout-all", user="alice")
        assert out.status_code == 200
        for token in (first, second):
            assert await on_production(prod, token) == 401
            assert await on_virtual(virtual, token) == 401
        assert await on_production(prod, bob) == 200  # other users are untouched
        assert await on_virtual(virtual, bob) == 400
        # a token issued in the very second of the logout-all, under the old version → refused;
        # what counts is the version the token carries, never its `iat`
        claims = jwt.decode(first, SECRET, algorithms=["HS256"])
        now = int(time.time())
        same_second = {**claims, "iat": now, "exp": now + 600}
        stale = jwt.encode(same_second, SECRET, algorithm="HS256")
        assert await on_production(prod, stale) == 401 and await on_virtual(virtual, stale) == 401
        assert prod.db.users.find_one({"username": "alice"})["token_version"] == 1
        # logging in again gives a token of the new version, good on both
        fresh = await prod.login("alice")
        assert jwt.decode(fresh, SECRET, algorithms=["HS256"])["ver"] == 1
        assert await on_production(prod, fresh) == 200
        assert await on_virtual(virtual, fresh) == 400


async def test_deactivated_user_is_refused_on_both_servers(secantus_uri: str) -> None:
    async with production(secantus_uri, WFE_AUTH_CACHE_S="0") as prod, \
            virtual_on(prod, secantus_uri) as virtual:
        token = prod.tokens["alice"]
        key = (await prod.post("/auth/access-keys", {"name": "ci"})).json()["access_key"]
        assert await on_virtual(virtual, token) == 400
        await prod.call(deactivate_user, prod.services.adapter, "alice")
        assert await on_production(prod, token) == 401
        assert await on_virtual(virtual, token) == 401
        by_key = await prod.client.get("/auth/me", headers={"X-Access-Key": key})
        assert by_key.status_code == 401  # access keys die with the account
        login = await prod.client.post("/auth/login", json={"identifier": "alice",
                                                            "password": PASSWORD})
        assert login.status_code == 401
        doc = prod.db.users.find_one({"username": "alice"})
        assert doc["is_active"] is False and doc["token_version"] == 1
        # reactivating the account does not bring the old tokens back
        prod.db.users.update_one({"username": "alice"}, {"$set": {"is_active": True}})
        assert await on_production(prod, token) == 401
        assert await on_virtual(virtual, token) == 401
        assert await on_production(prod, await prod.login("alice")) == 200


async def test_deleted_user_is_refused_on_both_servers(secantus_uri: str) -> None:
    async with production(secantus_uri, WFE_AUTH_CACHE_S="0") as prod, \
            virtual_on(prod, secantus_uri) as virtual:
        token = prod.tokens["bob"]
        assert await on_virtual(virtual, token) == 400
        await prod.call(delete_user, prod.services.adapter, "bob")
        assert prod.db.users.find_one({"username": "bob"}) is None
        assert await on_production(prod, token) == 401
        assert await on_virtual(virtual, token) == 401
        # a well-signed token for a user that never existed is refused too
        now = int(time.time())
        ghost = jwt.encode({"sub": "usr_" + "f" * 32, "type": "access", "iat": now,
                            "exp": now + 600}, SECRET, algorithm="HS256")
        assert await on_production(prod, ghost) == 401
        assert await on_virtual(virtual, ghost) == 401


async def test_other_processes_see_a_revocation_within_the_cache_ttl(secantus_uri: str) -> None:
    """A change written by another process (here: straight into the database) is seen once the
    cached read expires; the cache holds it no longer than `WFE_AUTH_CACHE_S`."""
    async with production(secantus_uri, WFE_AUTH_CACHE_S="0.6") as prod, \
            virtual_on(prod, secantus_uri, cache_s="0.6") as virtual:
        token = prod.tokens["alice"]
        assert await on_production(prod, token) == 200
        assert await on_virtual(virtual, token) == 400
        prod.db.users.update_one({"username": "alice"}, {"$inc": {"token_version": 1}})
        began = time.monotonic()
        codes: list[tuple[int, int]] = []
        while time.monotonic() - began < 5:
            codes.append((await on_production(prod, token), await on_virtual(virtual, token)))
            if codes[-1] == (401, 401):
                break
            await asyncio.sleep(0.1)
        assert codes[-1] == (401, 401), codes
        assert time.monotonic() - began < 0.6 + 1.5  # the TTL plus generous slack
        # within this process a logout-all is seen at once, whatever the TTL
        bob = prod.tokens["bob"]
        assert await on_production(prod, bob) == 200
        assert (await prod.post("/auth/logout-all", user="bob")).status_code == 200
        assert await on_production(prod, bob) == 401


async def test_virtual_without_a_database_checks_the_token_only(secantus_uri: str) -> None:
    """No `WFE_MONGODB_URI` on the virtual server (a pure development preview): the signature
    decides, so a deleted user's unexpired token still passes; the README says so."""
    async with production(secantus_uri, WFE_AUTH_CACHE_S="0") as prod, \
            virtual_on(None, None) as virtual:
        token = prod.tokens["bob"]
        await prod.call(delete_user, prod.services.adapter, "bob")
        assert await on_production(prod, token) == 401
        assert await on_virtual(virtual, token) == 400


async def test_virtual_user_database_down_fails_closed() -> None:
    """The user database cannot be reached: 503 (retry later), never a pass."""
    env = {"WFE_JWT_SECRET": SECRET, "WFE_MONGODB_URI": "mongodb://127.0.0.1:9/",
           "WFE_AUTH_CACHE_S": "0"}
    async with AsyncTestClient(make_app(load_settings(env))) as client:
        now = int(time.time())
        token = jwt.encode({"sub": "usr_1", "type": "access", "iat": now, "exp": now + 60, "ver": 0},
                           SECRET, algorithm="HS256")
        began = time.monotonic()
        response = await client.post("/workflow/state", json=PROBE,
                                     headers={"Authorization": "Bearer " + token})
        assert response.status_code == 503, response.text
        assert response.json()["result"]["error_type"] == "store_unavailable"
        assert response.headers["retry-after"] == "1"
        assert time.monotonic() - began < 5
        assert (await client.get("/health")).status_code == 200
