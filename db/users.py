"""`UserDirectory`: may this user's access token still be used? Read by both servers.

A signature alone cannot tell that a user was deactivated or deleted, or logged out everywhere,
after a token was issued. So every authenticated request looks at the user document: it must
exist, be active, and carry the same `token_version` the token was issued under (the `ver`
claim, engine/token_claims.py). Logout-all and deactivation increment `token_version`, which
revokes every access token issued before, exactly: a counter has no clock resolution or clock
skew between servers to get wrong (a token issued in the same millisecond as a logout-all is
refused all the same).

Reads are cached per process for `ttl_s` seconds (`WFE_AUTH_CACHE_S`), so a burst of requests
costs one small indexed read; a revocation made by this process drops its cache entry at once,
one made elsewhere is seen within `ttl_s`. Misses (deleted users) are cached too.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from datetime import datetime
from typing import TYPE_CHECKING, Any, Callable, Mapping

from db import queries as q

if TYPE_CHECKING:
    from db.production_store import StoreAdapter

Doc = dict[str, Any]
MAX_ENTRIES = 10000


def token_version_of(user: Mapping[str, Any]) -> int:
    """The user's current token version (documents written before it existed: 0)."""
    value = user.get("token_version", 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def token_allowed(user: Mapping[str, Any] | None, version: int) -> bool:
    """A token issued under `version` is usable when its user exists, is active and has not
    revoked tokens since."""
    return user is not None and bool(user.get("is_active")) and \
        token_version_of(user) == version


class UserDirectory:
    """Cached reads of user documents and the revocation write (call from the adapter's loop)."""

    def __init__(self, adapter: "StoreAdapter", ttl_s: float, *,
                 now: Callable[[], float] = time.monotonic,
                 max_entries: int = MAX_ENTRIES) -> None:
        self.adapter = adapter
        self.ttl_s = ttl_s
        self._now = now
        self._max = max_entries
        self._cache: OrderedDict[str, tuple[float, Doc | None]] = OrderedDict()
        self._epoch = 0  # bumped by `forget`: a read that started before must not be cached

    async def get(self, user_id: str) -> Doc | None:
        """The user's authentication fields, or None when no such user exists."""
        if self.ttl_s > 0:
            hit = self._cache.get(user_id)
            if hit is not None and hit[0] > self._now():
                return hit[1]
        epoch = self._epoch
        doc = await self.adapter.find_one("users", q.user_filter(user_id),
                                          projection=q.USER_AUTH_PROJECTION)
        if self.ttl_s > 0 and epoch == self._epoch:
            self._remember(user_id, doc)
        return doc

    def _remember(self, user_id: str, doc: Doc | None) -> None:
        self._cache[user_id] = (self._now() + self.ttl_s, doc)
        self._cache.move_to_end(user_id)
        while len(self._cache) > self._max:
            self._cache.popitem(last=False)

    def forget(self, user_id: str) -> None:
        """Drop a cached entry after this process changed the user."""
        self._epoch += 1
        self._cache.pop(user_id, None)

    async def revoke_tokens(self, user_id: str, now: datetime, *,
                            deactivate: bool = False) -> bool:
        """Invalidate every access token of the user issued so far (optionally deactivating the
        account); False when the user does not exist."""
        flt, update = q.user_revoke_tokens(user_id, now, deactivate=deactivate)
        try:
            found = await self.adapter.find_one_and_update("users", flt, update,
                                                           projection={"user_id": 1})
        finally:
            self.forget(user_id)
        return found is not None
