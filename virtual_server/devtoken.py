"""`python -m virtual_server.devtoken [--sub NAME] [--ttl SECONDS]`: a development access token.

Prints an HS256 access token signed with `WFE_JWT_SECRET` (VS-1 claims: sub, type "access",
iat, exp) for curl sessions and editor development against a local virtual server. Deployments
use tokens issued by the production server (same secret) instead.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import jwt

from virtual_server.settings import MIN_SECRET_BYTES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m virtual_server.devtoken")
    parser.add_argument("--sub", default="developer", help="subject (user id) of the token")
    parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    args = parser.parse_args(argv)
    secret = os.environ.get("WFE_JWT_SECRET", "")
    if len(secret.encode()) < MIN_SECRET_BYTES:
        print("WFE_JWT_SECRET (at least 32 bytes) must be set to the servers' secret; for "
              "scripts/serve: WFE_JWT_SECRET=$(cat .wfe-data/jwt-secret) "
              ".venv/bin/python -m virtual_server.devtoken (or log in: .venv/bin/wfe login)",
              file=sys.stderr)
        return 2
    now = int(time.time())
    print(jwt.encode({"sub": args.sub, "type": "access", "iat": now, "exp": now + args.ttl},
                     secret, algorithm="HS256"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
