"""The development admin user (`WFE_ENV=development`, scripts/serve): there on every start.

scripts/serve generates the password once into its data folder and prints it with the login, so
a fresh clone can log in right away. Starting again is idempotent: an existing user keeps its id
and data; only a password or role that no longer matches the configured one is put back, so the
printed login always works (the password file and the database live in the same folder).
"""

from __future__ import annotations

import logging

from production_server.auth.passwords import verify_password
from production_server.auth.repo import AuthRepo, check_credentials_shape

log = logging.getLogger("production_server")


async def ensure_dev_admin(repo: AuthRepo, username: str, password: str) -> str:
    """Create or repair the admin; returns `created`, `repaired` or `kept`."""
    check_credentials_shape(username, password)
    user = await repo.find_login_user(username)
    if user is None:
        await repo.create_user(username, password, role="admin")
        outcome = "created"
    elif user.get("role") != "admin" or not user.get("is_active") or \
            not verify_password(password, user.get("password_hash")):
        await repo.set_password(str(user["user_id"]), password, "admin")
        outcome = "repaired"
    else:
        outcome = "kept"
    log.info("development admin user %r %s", username, outcome)
    return outcome
