"""GEN-5: every import of every package obeys the dependency rules GEN-1 … GEN-4."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

STDLIB = {"__future__"}

# package -> top-level names it must never import
FORBIDDEN: dict[str, set[str]] = {
    "engine": {"litestar", "motor", "pymongo", "bson", "mongomock", "mongomock_ng", "jwt", "httpx",
               "db", "providers", "production_server", "virtual_server", "uvicorn", "anyio",
               "client"},
    "db": {"litestar", "providers", "production_server", "virtual_server", "jwt", "httpx",
           "client"},
    "providers": {"db", "litestar", "production_server", "virtual_server", "motor", "pymongo",
                  "mongomock", "jwt", "client"},
    "production_server": {"virtual_server", "client"},
    "virtual_server": {"production_server", "client"},
    # the HTTP clients speak to the servers over HTTP only, with the engine's wire structs; the
    # command line (client/cli) runs workflows in-process on the engine, never through a server
    # package either
    "client": {"production_server", "virtual_server", "litestar", "uvicorn", "motor",
               "mongomock", "pymongo", "jwt"},
}

# third-party packages each package may use (GEN-1 … GEN-4); stdlib is always allowed
ALLOWED_THIRD_PARTY: dict[str, set[str]] = {
    "engine": {"msgspec", "jinja2", "jsonschema", "uuid6", "markupsafe", "engine"},
    "db": {"engine", "db", "mongomock", "mongomock_ng", "motor", "pymongo", "bson", "anyio", "msgspec"},
    "providers": {"engine", "providers", "httpx", "msgspec", "openai", "anthropic"},
    "client": {"client", "engine", "httpx", "httpx_sse", "asgi_lifespan", "msgspec"},
}

# The test-support corner of `client` (issue 14): the pytest plugin and client/testing build the
# servers in-process, so they alone may import the server packages (and pytest, the MongoDB
# driver for the secantusdb starter, pyjwt for virtual-server tokens). Nothing else imports them.
CLIENT_TESTING = ("client/pytest_plugin.py", "client/testing/")
CLIENT_TESTING_ALLOWED = {"production_server", "virtual_server", "pytest", "pytest_asyncio",
                          "pymongo", "jwt"}
# The `wfe` command line (issue 11) runs workflows in-process on the embedded store, so it may
# also use db and providers, and typer/rich/click for its terminal; no other client module
# imports it (the HTTP clients stay free of terminal libraries).
CLIENT_CLI = "client/cli/"
CLIENT_CLI_ALLOWED = {"db", "providers", "typer", "rich", "click"}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module.split(".")[0])
    return names


def _is_client_testing(path: Path) -> bool:
    return path.relative_to(ROOT).as_posix().startswith(CLIENT_TESTING)


def _is_client_cli(path: Path) -> bool:
    return path.relative_to(ROOT).as_posix().startswith(CLIENT_CLI)


def _files(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py")
                  if not _is_client_testing(p) and not _is_client_cli(p))


def _is_stdlib(name: str) -> bool:
    import sys

    return name in sys.stdlib_module_names or name in STDLIB


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_gen5_forbidden_imports(package: str) -> None:
    """GEN-1…GEN-4: no package imports what its rule forbids (servers never import each other)."""
    bad = [f"{path.relative_to(ROOT)}: {name}" for path in _files(package)
           for name in _imports(path) if name in FORBIDDEN[package]]
    assert bad == []


@pytest.mark.parametrize("package", sorted(ALLOWED_THIRD_PARTY))
def test_gen5_only_allowed_third_party(package: str) -> None:
    """GEN-1/2/3: engine, db and providers import only stdlib and their allowed libraries."""
    bad = [f"{path.relative_to(ROOT)}: {name}" for path in _files(package)
           for name in _imports(path)
           if not _is_stdlib(name) and name not in ALLOWED_THIRD_PARTY[package]]
    assert bad == []


def test_client_testing_imports() -> None:
    """The plugin and client/testing: the client's rules plus the server packages; and no
    other client module imports them (the clients stay usable without the servers)."""
    corner = [p for p in sorted((ROOT / "client").rglob("*.py")) if _is_client_testing(p)]
    assert corner, "client/pytest_plugin.py and client/testing/ exist"
    allowed = ALLOWED_THIRD_PARTY["client"] | CLIENT_TESTING_ALLOWED
    bad = [f"{path.relative_to(ROOT)}: {name}" for path in corner for name in _imports(path)
           if not _is_stdlib(name) and name not in allowed]
    assert bad == []
    leaks = [f"{path.relative_to(ROOT)}" for path in _files("client")
             if "testing" in _imported_modules(path) or "pytest_plugin" in _imported_modules(path)]
    assert leaks == []


def test_client_cli_imports() -> None:
    """client/cli: the client's rules plus db, providers and the terminal libraries, never a
    server package; and only the command line itself imports it."""
    cli = [p for p in sorted((ROOT / "client").rglob("*.py")) if _is_client_cli(p)]
    assert cli, "client/cli exists"
    allowed = ALLOWED_THIRD_PARTY["client"] | CLIENT_CLI_ALLOWED
    bad = [f"{path.relative_to(ROOT)}: {name}" for path in cli for name in _imports(path)
           if (not _is_stdlib(name) and name not in allowed) or name in FORBIDDEN["client"]]
    assert bad == []
    leaks = [f"{path.relative_to(ROOT)}" for path in _files("client")
             if "cli" in _imported_modules(path)]
    assert leaks == []


def _imported_modules(path: Path) -> set[str]:
    """The second component of every `client.*` import (`client.testing.apps` → `testing`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
        found.update(n.split(".")[1] for n in names if n.startswith("client.") and "." in n)
    return found


def test_gen5_rule_catches_a_violation(tmp_path: Path) -> None:
    """The checker itself flags a forbidden import (the test can fail)."""
    bad = tmp_path / "x.py"
    bad.write_text("import litestar\nfrom motor.motor_asyncio import AsyncIOMotorClient\n")
    assert set(_imports(bad)) & FORBIDDEN["engine"] == {"litestar", "motor"}
