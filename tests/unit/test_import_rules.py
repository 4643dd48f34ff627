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
               "db", "providers", "production_server", "virtual_server", "uvicorn", "anyio"},
    "db": {"litestar", "providers", "production_server", "virtual_server", "jwt", "httpx"},
    "providers": {"db", "litestar", "production_server", "virtual_server", "motor", "pymongo",
                  "mongomock", "jwt"},
    "production_server": {"virtual_server"},
    "virtual_server": {"production_server"},
    # the command line runs workflows in-process on the engine, never through a server package
    "client": {"production_server", "virtual_server", "litestar", "uvicorn", "motor", "mongomock",
               "pymongo", "jwt"},
}

# third-party packages each package may use (GEN-1 … GEN-4); stdlib is always allowed
ALLOWED_THIRD_PARTY: dict[str, set[str]] = {
    "engine": {"msgspec", "jinja2", "jsonschema", "uuid6", "markupsafe", "engine"},
    "db": {"engine", "db", "mongomock", "mongomock_ng", "motor", "pymongo", "bson", "anyio", "msgspec"},
    "providers": {"engine", "providers", "httpx", "msgspec", "openai", "anthropic"},
    "client": {"client", "engine", "db", "providers", "typer", "rich", "click", "httpx", "msgspec"},
}


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module.split(".")[0])
    return names


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


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


def test_gen5_rule_catches_a_violation(tmp_path: Path) -> None:
    """The checker itself flags a forbidden import (the test can fail)."""
    bad = tmp_path / "x.py"
    bad.write_text("import litestar\nfrom motor.motor_asyncio import AsyncIOMotorClient\n")
    assert set(_imports(bad)) & FORBIDDEN["engine"] == {"litestar", "motor"}
