"""`users` reads and the revocation write (db/users.py) on every store kind (ST-1).

The production kinds run `UserDirectory` on the store's own adapter (secantusdb through motor and
PyMongo, and mongomock-motor) on the loop that owns it. The virtual kinds have no async adapter;
there the same query shapes run through the store's executor behind a small async shim, so a
shape that one backend evaluates differently fails here.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import pytest

from db.users import UserDirectory, token_allowed, token_version_of

NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)


class ExecutorShim:
    """The async adapter methods `UserDirectory` uses, over a sync executor."""

    def __init__(self, executor: Any) -> None:
        self.ex = executor

    async def find_one(self, coll: str, flt: dict[str, Any], *, projection: Any = None,
                       sort: Any = None) -> Any:
        return self.ex.find_one(coll, flt, projection=projection, sort=sort)

    async def find_one_and_update(self, coll: str, flt: dict[str, Any], update: dict[str, Any],
                                  **kwargs: Any) -> Any:
        return self.ex.find_one_and_update(coll, flt, update, **kwargs)

    async def insert_one(self, coll: str, doc: dict[str, Any]) -> None:
        self.ex.insert_one(coll, doc)

    async def update_one(self, coll: str, flt: dict[str, Any], update: dict[str, Any]) -> None:
        self.ex.update_one(coll, flt, update)

    async def delete_many(self, coll: str, flt: dict[str, Any]) -> int:
        return int(self.ex.delete_many(coll, flt))


@pytest.fixture
def backend(store: Any, store_kind: str, request: pytest.FixtureRequest) -> tuple[Any, Callable[[Any], Any]]:
    """(async adapter, run coroutine) for the store under test."""
    if store_kind.startswith("virtual"):
        import asyncio

        return ExecutorShim(store.executor), asyncio.run
    loop = request.getfixturevalue("loop_thread")
    return store.adapter, loop.run


def user(n: int, **extra: Any) -> dict[str, Any]:
    return {"user_id": f"usr_{n:032x}", "username": f"user{n}", "email": f"u{n}@example.com",
            "password_hash": "scrypt$16384$8$1$c2FsdA==$aGFzaA==", "role": "user",
            "is_active": True, "is_guest": False, "is_virtual": False, "invitation_code": None,
            "created_at": NOW, "updated_at": NOW, **extra}


def test_read_projects_only_auth_fields_and_misses_are_none(backend: Any) -> None:
    adapter, run = backend
    users = UserDirectory(adapter, 0)
    run(adapter.insert_one("users", user(1)))
    doc = run(users.get(user(1)["user_id"]))
    assert doc == {"user_id": user(1)["user_id"], "username": "user1",
                   "email": "u1@example.com", "role": "user", "is_active": True}
    assert token_version_of(doc) == 0 and token_allowed(doc, 0) and not token_allowed(doc, 1)
    assert run(users.get("usr_missing")) is None
    assert not token_allowed(None, 0)


def test_revocation_increments_the_version_and_can_deactivate(backend: Any) -> None:
    adapter, run = backend
    users = UserDirectory(adapter, 0)
    uid = user(2)["user_id"]
    run(adapter.insert_one("users", user(2)))
    later = NOW + timedelta(seconds=5)
    assert run(users.revoke_tokens(uid, later)) is True
    doc = run(users.get(uid))
    assert doc["token_version"] == 1 and doc["is_active"] is True
    assert not token_allowed(doc, 0) and token_allowed(doc, 1)
    assert run(users.revoke_tokens(uid, later, deactivate=True)) is True
    doc = run(users.get(uid))
    assert doc["token_version"] == 2 and doc["is_active"] is False
    assert not token_allowed(doc, 2)  # inactive: no version is good enough
    stored = run(adapter.find_one("users", {"user_id": uid}))
    assert stored["updated_at"] == later and stored["password_hash"] == user(2)["password_hash"]
    assert run(users.revoke_tokens("usr_missing", later)) is False
    assert run(adapter.find_one("users", {"user_id": "usr_missing"})) is None  # no upsert


def test_cache_keeps_a_read_for_ttl_and_forget_drops_it(backend: Any) -> None:
    adapter, run = backend
    clock = [100.0]
    users = UserDirectory(adapter, 5, now=lambda: clock[0])
    uid = user(3)["user_id"]
    run(adapter.insert_one("users", user(3)))
    assert run(users.get(uid))["is_active"] is True
    assert run(users.get("usr_gone")) is None
    run(adapter.update_one("users", {"user_id": uid}, {"$set": {"is_active": False}}))
    run(adapter.insert_one("users", user(4, user_id="usr_gone")))
    clock[0] = 104.9  # within the TTL: the cached answers stand
    assert run(users.get(uid))["is_active"] is True
    assert run(users.get("usr_gone")) is None
    clock[0] = 105.1  # expired: read again
    assert run(users.get(uid))["is_active"] is False
    assert run(users.get("usr_gone")) is not None
    run(adapter.update_one("users", {"user_id": uid}, {"$set": {"is_active": True}}))
    users.forget(uid)  # a change made by this process is seen at once
    assert run(users.get(uid))["is_active"] is True
    run(users.revoke_tokens(uid, NOW))  # and the revocation write forgets by itself
    assert run(users.get(uid))["token_version"] == 1


def test_cache_is_bounded() -> None:
    import asyncio

    class Counting:
        calls = 0

        async def find_one(self, coll: str, flt: dict[str, Any], **_: Any) -> Any:
            Counting.calls += 1
            return {"user_id": flt["user_id"], "is_active": True}

    users = UserDirectory(Counting(), 60, max_entries=3)  # type: ignore[arg-type]
    for n in range(5):
        asyncio.run(users.get(f"u{n}"))
    assert len(users._cache) == 3 and list(users._cache) == ["u2", "u3", "u4"]
    asyncio.run(users.get("u4"))
    assert Counting.calls == 5  # a hit
    asyncio.run(users.get("u0"))
    assert Counting.calls == 6  # evicted earlier, read again
