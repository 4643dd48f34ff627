"""The operator command line against the configured database (wire-api.md §6.1)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from typing import Any

from pymongo import MongoClient

from production_server.auth.passwords import verify_password

SECRET = "cli-secret-0123456789abcdef0123456789"


def _run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "production_server.admin", *args], input=stdin,
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60,
                          cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def test_admin_cli_creates_invitation_and_user(secantus_uri: str) -> None:
    database = "cli_" + uuid.uuid4().hex[:12]
    env = {"WFE_MONGODB_URI": secantus_uri, "WFE_MONGODB_DATABASE": database,
           "WFE_JWT_SECRET": SECRET}
    client: MongoClient[dict[str, Any]] = MongoClient(secantus_uri)
    try:
        made = _run(["create-invitation", "--code", "BOOT", "--max-uses", "3",
                     "--expires-days", "2"], env)
        assert made.returncode == 0, made.stderr
        invitation = client[database].invitation_codes.find_one({"code": "BOOT"})
        assert invitation["remaining_uses"] == 3 and invitation["expires_at"] is not None
        again = _run(["create-invitation", "--code", "BOOT", "--max-uses", "3"], env)
        assert again.returncode == 1
        user = _run(["create-user", "--username", "root_admin", "--password-stdin", "--admin"],
                    env, stdin="a-long-password\n")
        assert user.returncode == 0, user.stderr
        doc = client[database].users.find_one({"username": "root_admin"})
        assert doc["role"] == "admin" and doc["is_active"] is True
        assert verify_password("a-long-password", doc["password_hash"])
        assert client[database].schema_migrations.count_documents({}) == 2  # m_0001, m_0002
        short = _run(["create-user", "--username", "x", "--password-stdin"], env, stdin="pw\n")
        assert short.returncode != 0
        # the operator tool never touches tokens, so it does not ask for the JWT secret
        no_secret = _run(["create-invitation", "--code", "Z", "--max-uses", "1"],
                         {**env, "WFE_JWT_SECRET": ""})
        assert no_secret.returncode == 0, no_secret.stderr
        assert client[database].invitation_codes.count_documents({"code": "Z"}) == 1
        # deactivation keeps the document, refuses it and revokes its tokens; deletion removes it
        off = _run(["deactivate-user", "--username", "root_admin"], env)
        assert off.returncode == 0 and "deactivated" in off.stdout, off.stderr
        doc = client[database].users.find_one({"username": "root_admin"})
        assert doc["is_active"] is False and doc["token_version"] == 1
        gone = _run(["delete-user", "--username", "root_admin"], env)
        assert gone.returncode == 0, gone.stderr
        assert client[database].users.count_documents({"username": "root_admin"}) == 0
        unknown = _run(["delete-user", "--username", "nobody_here"], env)
        assert unknown.returncode == 2 and "no user named" in unknown.stderr
    finally:
        client.drop_database(database)
        client.close()


def test_admin_cli_refuses_the_throw_away_database() -> None:
    """Issue 11: without a URI it would write to its own in-memory database: it refuses and says
    how to point it at the server's (exit 2, one message, no traceback)."""
    done = _run(["create-invitation", "--code", "X", "--max-uses", "1"], {"WFE_MONGODB_URI": ""})
    assert done.returncode == 2
    assert "WFE_MONGODB_URI is not set" in done.stderr and "throw-away" in done.stderr
    assert "mongodb://127.0.0.1:9017" in done.stderr and "Traceback" not in done.stderr


def test_admin_cli_unreachable_database_is_one_line() -> None:
    """Issue 11: a database that does not answer is one clear line within seconds, exit 1."""
    import socket
    import time

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    done = _run(["create-invitation", "--code", "X", "--max-uses", "1"],
                {"WFE_MONGODB_URI": f"mongodb://u:hunter22@127.0.0.1:{port}/"})
    assert done.returncode == 1 and time.monotonic() - started < 30
    assert done.stderr.count("\n") == 1 and "cannot reach the database" in done.stderr
    assert "hunter22" not in done.stderr and "Traceback" not in done.stderr
