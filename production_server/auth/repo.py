"""Authentication data through the adapter's async methods, outside the engine pool (storage.md §3.3).

Users, invitation codes, refresh tokens and access keys. Every write is a single-document
operation; uniqueness comes from the unique indexes (a duplicate surfaces as
`ConcurrentModification`). Timestamps use the wall clock because they gate real expiry.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

from db import queries as q
from db.production_store import StoreAdapter
from db.users import UserDirectory
from engine import ConcurrentModification, IdGenerator, utc_ms
from production_server.auth.passwords import hash_password, password_length_ok
from production_server.auth.tokens import token_hash
from production_server.errors import ApiError, bad_request

Doc = dict[str, Any]
USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{3,32}$")
ACCESS_KEY_PREFIX = "wfk_"


def wall_now() -> datetime:
    return utc_ms(datetime.now(timezone.utc))


def invitation_invalid() -> ApiError:
    return ApiError(400, "invitation_invalid", "Invitation code is invalid or expired")


def user_exists() -> ApiError:
    return ApiError(409, "user_exists", "Username or email already registered")


def normalise_email(email: str | None) -> str | None:
    if email is None or not email.strip():
        return None
    value = email.strip().lower()
    if value.count("@") != 1 or value.startswith("@") or value.endswith("@") or len(value) > 254:
        raise bad_request("Invalid email address", field="email")
    return value


def check_credentials_shape(username: str, password: str) -> None:
    if not USERNAME_RE.match(username):
        raise bad_request("Username must be 3-32 letters, digits or underscores", field="username")
    if not password_length_ok(password):
        raise bad_request("Password must be 8-128 characters", field="password")


def public_user(user: Doc) -> Doc:
    return {"user_id": user["user_id"], "email": user.get("email"),
            "username": user["username"], "role": user.get("role", "user")}


class AuthRepo:
    def __init__(self, adapter: StoreAdapter, ids: IdGenerator,
                 users: UserDirectory | None = None) -> None:
        self.db = adapter
        self.ids = ids
        self.users = users if users is not None else UserDirectory(adapter, 0)

    # ------------------------------------------------------------------ users

    async def get_user(self, user_id: str) -> Doc | None:
        return await self.db.find_one("users", q.user_filter(user_id))

    async def find_login_user(self, identifier: str) -> Doc | None:
        text = identifier.strip()
        if "@" in text:
            return await self.db.find_one("users", {"email": text.lower()})
        return await self.db.find_one("users", {"username": text})

    async def create_user(self, username: str, password: str | None, *, email: str | None = None,
                          role: str = "user", invitation_code: str | None = None,
                          is_guest: bool = False) -> Doc:
        """Insert a user (409 `user_exists` when the username or email is taken)."""
        email = normalise_email(email)
        if await self.db.find_one("users", {"username": username}) is not None:
            raise user_exists()
        if email is not None and await self.db.find_one("users", {"email": email}) is not None:
            raise user_exists()
        now = wall_now()
        doc: Doc = {"user_id": self.ids.new_id("usr_"), "username": username,
                    "password_hash": hash_password(password) if password else None,
                    "role": role, "is_active": True, "is_guest": is_guest, "is_virtual": False,
                    "invitation_code": invitation_code, "created_at": now, "updated_at": now}
        if email is not None:  # the unique index on email is sparse: absent, never null
            doc["email"] = email
        try:
            await self.db.insert_one("users", doc)
        except ConcurrentModification:
            raise user_exists() from None
        return doc

    async def set_password(self, user_id: str, password: str, role: str) -> None:
        """Replace a user's password hash and role (the development admin, auth/devadmin.py)."""
        await self.db.update_one("users", {"user_id": user_id}, {"$set": {
            "password_hash": hash_password(password), "role": role, "is_active": True,
            "updated_at": wall_now()}})

    async def delete_user(self, user_id: str) -> None:
        try:
            await self.db.delete_many("users", q.user_filter(user_id))
        finally:
            self.users.forget(user_id)

    async def end_all_sessions(self, user_id: str, *, deactivate: bool = False) -> bool:
        """Logout-all (and deactivation): every refresh token revoked, every access token issued
        so far refused from now on (this process) or within `WFE_AUTH_CACHE_S` (others)."""
        found = await self.users.revoke_tokens(user_id, wall_now(), deactivate=deactivate)
        await self.revoke_all_refresh(user_id)
        return found

    # ------------------------------------------------------------------ invitations

    async def create_invitation(self, code: str, max_uses: int, expires_days: float | None) -> Doc:
        now = wall_now()
        doc: Doc = {"code": code, "is_active": True,
                    "expires_at": now + timedelta(days=expires_days) if expires_days else None,
                    "max_uses": max_uses, "remaining_uses": max_uses, "used_count": 0,
                    "usage_history": [], "created_at": now, "updated_at": now}
        await self.db.insert_one("invitation_codes", doc)
        return doc

    async def usable_invitation(self, code: str) -> Doc | None:
        doc = await self.db.find_one("invitation_codes", {"code": code})
        if doc is None or not doc.get("is_active") or int(doc.get("remaining_uses") or 0) <= 0:
            return None
        expires = doc.get("expires_at")
        if expires is not None and expires <= wall_now():
            return None
        return doc

    async def consume_invitation(self, code: str, user_id: str, ip: str | None) -> bool:
        """Atomic: decrement only where uses remain and the code is active and unexpired."""
        now = wall_now()
        found = await self.db.find_one_and_update(
            "invitation_codes",
            {"code": code, "is_active": True, "remaining_uses": {"$gt": 0},
             "$or": [{"expires_at": None}, {"expires_at": {"$gt": now}}]},
            {"$inc": {"remaining_uses": -1, "used_count": 1},
             "$push": {"usage_history": {"user_id": user_id, "used_at": now, "ip_address": ip}},
             "$set": {"updated_at": now}})
        return found is not None

    # ------------------------------------------------------------------ refresh tokens

    async def store_refresh(self, token: str, jti: str, user_id: str, exp: int,
                            user_agent: str | None, ip: str | None) -> None:
        now = wall_now()
        await self.db.insert_one("refresh_tokens", {
            "token_id": jti, "user_id": user_id, "token_hash": token_hash(token),
            "created_at": now, "expires_at": datetime.fromtimestamp(exp, timezone.utc),
            "last_used_at": None, "revoked_at": None, "rotated_at": None,
            "successor_token_id": None, "user_agent": user_agent, "ip_address": ip})

    async def find_refresh(self, token: str) -> Doc | None:
        return await self.db.find_one("refresh_tokens", {"token_hash": token_hash(token)})

    async def mark_rotated(self, token_id: str, successor: str) -> bool:
        """True for the one caller that rotated it first."""
        now = wall_now()
        found = await self.db.find_one_and_update(
            "refresh_tokens", {"token_id": token_id, "rotated_at": None, "revoked_at": None},
            {"$set": {"rotated_at": now, "successor_token_id": successor, "last_used_at": now}})
        return found is not None

    async def revoke_refresh(self, token_id: str) -> None:
        await self.db.update_one("refresh_tokens", {"token_id": token_id, "revoked_at": None},
                                 {"$set": {"revoked_at": wall_now()}})

    async def revoke_all_refresh(self, user_id: str) -> int:
        live = await self.db.find("refresh_tokens", {"user_id": user_id, "revoked_at": None},
                                  projection={"token_id": 1})
        for doc in live:
            await self.revoke_refresh(str(doc["token_id"]))
        return len(live)

    # ------------------------------------------------------------------ access keys

    async def create_access_key(self, user_id: str, name: str,
                                expires_in_days: int | None) -> tuple[Doc, str]:
        key = ACCESS_KEY_PREFIX + secrets.token_urlsafe(32)
        now = wall_now()
        doc: Doc = {"access_key_id": self.ids.new_id("key_"), "user_id": user_id,
                    "access_key_hash": token_hash(key), "name": name, "is_active": True,
                    "created_at": now, "last_used_at": None,
                    "expires_at": now + timedelta(days=expires_in_days) if expires_in_days else None,
                    "revoked_at": None}
        await self.db.insert_one("access_keys", doc)
        return doc, key

    async def list_access_keys(self, user_id: str) -> list[Doc]:
        return await self.db.find("access_keys", {"user_id": user_id},
                                  sort=[("created_at", -1), ("access_key_id", -1)])

    async def revoke_access_key(self, user_id: str, access_key_id: str) -> bool:
        now = wall_now()
        found = await self.db.find_one_and_update(
            "access_keys", {"access_key_id": access_key_id, "user_id": user_id},
            {"$set": {"is_active": False, "revoked_at": now}})
        return found is not None

    async def user_for_access_key(self, key: str) -> str | None:
        """The owner of a valid key (active, not revoked, not expired); records the use."""
        doc = await self.db.find_one("access_keys", {"access_key_hash": token_hash(key)})
        if doc is None or not doc.get("is_active") or doc.get("revoked_at") is not None:
            return None
        now = wall_now()
        expires = doc.get("expires_at")
        if expires is not None and expires <= now:
            return None
        await self.db.update_one("access_keys", {"access_key_id": doc["access_key_id"]},
                                 {"$set": {"last_used_at": now}})
        return str(doc["user_id"])
