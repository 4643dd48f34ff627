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


# ---------------------------------------------------------------------- the import graph (issue 12)

GRAPH_PACKAGES = ("engine", "db", "providers", "production_server", "virtual_server", "client")
SERVERS = ("production_server", "virtual_server", "client")


def _module_files(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Dotted module name -> file, for every module of `packages` under `root`."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _import_targets(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Modules of `modules` that `name` imports anywhere in its file: inside functions and
    TYPE_CHECKING blocks too, since those still tie the two modules together."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            candidates = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for candidate in candidates:
            while candidate and candidate not in modules:
                candidate = candidate.rpartition(".")[0]
            if candidate and candidate != name:
                targets.add(candidate)
    return targets


def import_cycles(root: Path, packages: tuple[str, ...]) -> list[list[str]]:
    """Strongly connected components of more than one module (iterative Tarjan)."""
    modules = _module_files(root, packages)
    graph = {name: sorted(_import_targets(name, path, modules)) for name, path in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            edges = graph[node]
            if position < len(edges):
                work.append((node, position + 1))
                nxt = edges[position]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return cycles


def test_no_import_cycles() -> None:
    """Each layer calls only downward: no module of any package can reach itself."""
    assert import_cycles(ROOT, GRAPH_PACKAGES) == []


def test_cycle_check_catches_a_planted_cycle(tmp_path: Path) -> None:
    """A circle closed only by an import inside a function is still found (the test can fail)."""
    pkg = tmp_path / "engine"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from engine.b import thing\n")
    (pkg / "b.py").write_text("def thing():\n    from engine import a\n    return a\n")
    (pkg / "c.py").write_text("import engine.a\n")
    assert import_cycles(tmp_path, ("engine",)) == [["engine.a", "engine.b"]]


def test_nothing_in_the_engine_imports_the_facade() -> None:
    """`engine/processor.py` is a facade for callers; operations never call back up into it."""
    modules = _module_files(ROOT, ("engine",))
    bad = [name for name, path in modules.items() if name != "engine"
           and "engine.processor" in _import_targets(name, path, modules)]
    assert bad == []


def _engine_imports(path: Path) -> list[tuple[str, str]]:
    """(module, name) of every import of the engine in a file; `name` is "" for `import x`."""
    found: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(a.name, "") for a in node.names if a.name.split(".")[0] == "engine"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module \
                and node.module.split(".")[0] == "engine":
            found += [(node.module, a.name) for a in node.names]
    return found


@pytest.mark.parametrize("package", SERVERS)
def test_servers_use_only_the_public_engine_api(package: str) -> None:
    """Servers and the client import `from engine import <name>` with `<name>` in
    `engine.__all__`, never a module inside the engine."""
    import engine

    public = set(engine.__all__)
    bad = [f"{path.relative_to(ROOT)}: {module}.{name}".rstrip(".")
           for path in sorted((ROOT / package).rglob("*.py"))
           for module, name in _engine_imports(path)
           if module != "engine" or name not in public]
    assert bad == []


def test_public_api_check_catches_a_private_import(tmp_path: Path) -> None:
    bad = tmp_path / "x.py"
    bad.write_text("from engine import WorkflowEngine\nfrom engine.processor import StartCommand\n")
    assert _engine_imports(bad) == [("engine", "WorkflowEngine"),
                                    ("engine.processor", "StartCommand")]


@pytest.mark.parametrize("package", GRAPH_PACKAGES)
def test_no_private_names_cross_modules(package: str) -> None:
    """A module imports only public names of another (the blob codec exposes its splicing
    decoder rather than lending its internals to the fast store)."""
    ours = set(GRAPH_PACKAGES)
    bad = [f"{path.relative_to(ROOT)}: {node.module}.{alias.name}"
           for path in _files(package)
           for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
           if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
           and node.module.split(".")[0] in ours
           for alias in node.names if alias.name.startswith("_")]
    assert bad == []


ROUTE_DIRS = ("production_server/routes", "virtual_server/routes")


def _storage_reach(path: Path) -> list[str]:
    """Ways a module reaches storage directly: a `db` import or an `.adapter`/`.store`."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] == "db"]
        elif isinstance(node, ast.ImportFrom) and node.module \
                and node.module.split(".")[0] == "db":
            found.append(node.module)
        elif isinstance(node, ast.Attribute) and node.attr in ("adapter", "store"):
            found.append("." + node.attr)
    return found


@pytest.mark.parametrize("routes", ROUTE_DIRS)
def test_routes_never_touch_the_driver_adapter(routes: str) -> None:
    """One read path per side: routes read through `services.reads` (the read plans of
    db/reads.py) or the engine, never the database adapter or the engine's store."""
    bad = [f"{path.relative_to(ROOT)}: {what}" for path in sorted((ROOT / routes).rglob("*.py"))
           for what in _storage_reach(path)]
    assert bad == []


def test_storage_reach_check_catches_the_adapter(tmp_path: Path) -> None:
    bad = tmp_path / "route.py"
    bad.write_text("from db import queries as q\n"
                   "async def f(services):\n    return await services.adapter.find('x', {})\n")
    assert _storage_reach(bad) == ["db", ".adapter"]
