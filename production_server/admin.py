"""Operator command line (wire-api.md §6.1): bootstrap a deployment without touching the database.

    python -m production_server.admin create-invitation --code C --max-uses N --expires-days D
    python -m production_server.admin create-user --username U --password-stdin [--admin] [--email E]
    python -m production_server.admin deactivate-user --username U
    python -m production_server.admin delete-user --username U

All work against the configured database (`WFE_MONGODB_URI`, `WFE_MONGODB_DATABASE`) and need
nothing else (no `WFE_JWT_SECRET`). Without a URI they refuse: the write would land in a
throw-away in-memory database of this process and the server would never see it. The async
helpers are what tests call with an adapter of their own. Deactivating or deleting a user ends
their sessions: refresh tokens are revoked and their access tokens stop working on every server
that reads this database within `WFE_AUTH_CACHE_S` (db/users.py).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any, Sequence

from db.production_store import StoreAdapter, ensure_indexes, open_adapter
from engine import ConcurrentModification, IdGenerator, MonotonicIds, StoreUnavailable
from production_server.auth.repo import AuthRepo, check_credentials_shape
from production_server.errors import ApiError
from production_server.services import redacted_uri
from production_server.settings import SettingsError, load_settings

PING_TIMEOUT_S = 5.0
NO_URI = ("WFE_MONGODB_URI is not set, so this would write to a throw-away in-memory database "
          "that no server reads. Point it at the server's database, e.g. for scripts/serve: "
          "WFE_MONGODB_URI='mongodb://127.0.0.1:9017/?directConnection=true' (port "
          "WFE_MONGO_PORT)")


class Unreachable(Exception):
    """The configured database did not answer a ping."""


async def create_invitation(adapter: StoreAdapter, code: str, max_uses: int,
                            expires_days: float | None, ids: IdGenerator | None = None) -> dict[str, Any]:
    if not code.strip() or max_uses < 1:
        raise ValueError("an invitation needs a code and max-uses >= 1")
    return await AuthRepo(adapter, ids or MonotonicIds()).create_invitation(code.strip(), max_uses,
                                                                           expires_days)


async def create_user(adapter: StoreAdapter, username: str, password: str, *, admin: bool = False,
                      email: str | None = None, ids: IdGenerator | None = None) -> dict[str, Any]:
    check_credentials_shape(username, password)
    return await AuthRepo(adapter, ids or MonotonicIds()).create_user(
        username, password, email=email, role="admin" if admin else "user")


async def _existing(repo: AuthRepo, username: str) -> dict[str, Any]:
    user = await repo.find_login_user(username)
    if user is None or "@" in username:
        raise ValueError(f"no user named {username!r}")
    return user


async def deactivate_user(adapter: StoreAdapter, username: str) -> dict[str, Any]:
    """Refuse the user's logins and revoke every token they hold (the document stays)."""
    repo = AuthRepo(adapter, MonotonicIds())
    user = await _existing(repo, username)
    await repo.end_all_sessions(str(user["user_id"]), deactivate=True)
    return user


async def delete_user(adapter: StoreAdapter, username: str) -> dict[str, Any]:
    """Remove the user document; their tokens and keys stop working (their runs are kept)."""
    repo = AuthRepo(adapter, MonotonicIds())
    user = await _existing(repo, username)
    await repo.revoke_all_refresh(str(user["user_id"]))
    await repo.delete_user(str(user["user_id"]))
    return user


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m production_server.admin")
    sub = parser.add_subparsers(dest="command", required=True)
    inv = sub.add_parser("create-invitation", help="create an invitation code")
    inv.add_argument("--code", required=True)
    inv.add_argument("--max-uses", type=int, required=True)
    inv.add_argument("--expires-days", type=float, default=None)
    usr = sub.add_parser("create-user", help="create a user; the password is read from stdin")
    usr.add_argument("--username", required=True)
    usr.add_argument("--password-stdin", action="store_true", required=True)
    usr.add_argument("--email", default=None)
    usr.add_argument("--admin", action="store_true")
    for name, text in (("deactivate-user", "disable a user and revoke their tokens"),
                       ("delete-user", "delete a user (their tokens stop working)")):
        sub.add_parser(name, help=text).add_argument("--username", required=True)
    return parser


async def _run(args: argparse.Namespace, env: dict[str, str]) -> str:
    settings = load_settings(env, require_secret=False)
    if not settings.mongodb_uri:
        raise SettingsError(NO_URI)
    adapter = open_adapter(settings.mongodb_uri, settings.mongodb_database,
                           driver=settings.mongo_driver,
                           write_concern=settings.mongo_write_concern)
    try:
        if not await _answers(adapter):
            raise Unreachable(f"cannot reach the database at {redacted_uri(settings.mongodb_uri)} "
                              "(WFE_MONGODB_URI); is it running? (scripts/serve starts one)")
        await ensure_indexes(adapter)
        if args.command == "create-invitation":
            doc = await create_invitation(adapter, args.code, args.max_uses, args.expires_days)
            return f"invitation {doc['code']} created ({doc['max_uses']} uses)"
        if args.command == "deactivate-user":
            doc = await deactivate_user(adapter, args.username)
            return f"user {doc['username']} deactivated; their tokens are revoked"
        if args.command == "delete-user":
            doc = await delete_user(adapter, args.username)
            return f"user {doc['username']} deleted ({doc['user_id']})"
        password = sys.stdin.readline().rstrip("\r\n")
        doc = await create_user(adapter, args.username, password, admin=args.admin,
                                email=args.email)
        return f"user {doc['username']} created ({doc['user_id']}, role {doc['role']})"
    finally:
        await adapter.close()


async def _answers(adapter: StoreAdapter) -> bool:
    try:
        return bool(await asyncio.wait_for(adapter.ping(), PING_TIMEOUT_S))
    except (TimeoutError, StoreUnavailable, OSError):
        return False


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        print(asyncio.run(_run(args, dict(os.environ))))
    except (SettingsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Unreachable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ApiError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    except ConcurrentModification:
        print("error: that invitation code already exists", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
