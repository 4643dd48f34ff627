"""pytest plugin `wfe` (entry point in pyproject.toml): integration tests of workflows.

Installed with the package, it offers (async fixtures work with pytest-asyncio, strict or auto):

- `wfe_virtual`: a `VirtualClient` of an in-process virtual server (token included);
- `wfe_production`: a `ProductionClient` of an in-process production server on the embedded
  database, logged in as a fresh user; mark the test `@pytest.mark.wfe_mongodb` to put that
  server on a real MongoDB wire-protocol server instead (an ephemeral `secantusdb`, one
  database per test, dropped afterwards);
- `wfe_mongodb_uri`: the URI of that `secantusdb` (session scope; started on first use);
- `workflow_run`: `await workflow_run(folder, answers, server="virtual"|"production")` starts
  a run of the workflow on a fresh in-process server, walks it with the script of answers
  (client/walk.py) and returns a `WalkResult`: `status`, `state`, `event_types`, …

Servers are built from their real `create_app`. Override `wfe_virtual_env` /
`wfe_production_env` (extra `WFE_*` settings) or `wfe_create_kwargs` (clock, ids, providers)
in a conftest to change them. Server packages are imported only when a fixture needs them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

from client.production import ProductionClient
from client.testing.apps import (
    PASSWORD,
    access_token,
    add_user,
    drop_database,
    new_secret,
    production_app,
    virtual_app,
)
from client.virtual import VirtualClient
from client.walk import Script, WalkResult, walk
from engine import Target

try:
    import pytest_asyncio

    async_fixture: Any = pytest_asyncio.fixture
except ImportError:  # pragma: no cover - the fixtures then say what is missing
    def async_fixture(fn: Any) -> Any:
        @pytest.fixture(name=fn.__name__)
        def missing() -> None:
            pytest.fail("the wfe fixtures need pytest-asyncio (pip install pytest-asyncio)")
        return missing

MONGO_MARK = "wfe_mongodb"
TEST_USER = "wfe_tester"
CreateKwargs = Callable[[str], dict[str, Any]]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", f"{MONGO_MARK}: run wfe_production on a wire-protocol "
                                       "MongoDB (secantusdb) instead of the embedded database")


# ---------------------------------------------------------------- settings (override these)


@pytest.fixture(scope="session")
def wfe_secret() -> str:
    """The JWT secret both in-process servers share (a production token works on virtual)."""
    return new_secret()


@pytest.fixture
def wfe_virtual_env() -> dict[str, str]:
    return {}


@pytest.fixture
def wfe_production_env() -> dict[str, str]:
    return {}


@pytest.fixture
def wfe_create_kwargs() -> CreateKwargs:
    """`create_app` keyword arguments per server ("virtual"/"production"), built per app."""
    return lambda _server: {}


@pytest.fixture(scope="session")
def wfe_mongodb_uri() -> Iterator[str]:
    from client.testing.mongo import running_secantus

    with running_secantus() as uri:
        yield uri


# ---------------------------------------------------------------- servers and clients


class _Servers:
    """Builds the apps of one test, with its settings and (when marked) its MongoDB."""

    def __init__(self, request: pytest.FixtureRequest, secret: str, virtual_env: dict[str, str],
                 production_env: dict[str, str], create: CreateKwargs) -> None:
        self.secret = secret
        self.virtual_env = virtual_env
        self.production_env = production_env
        self.create = create
        self.mongodb_uri: str | None = None
        self.databases: list[str] = []
        if request.node.get_closest_marker(MONGO_MARK) is not None:
            self.mongodb_uri = request.getfixturevalue("wfe_mongodb_uri")

    def virtual(self) -> Any:
        return virtual_app(self.secret, self.virtual_env, **self.create("virtual"))

    def production(self) -> Any:
        database = "wfe_" + uuid.uuid4().hex[:12]
        self.databases.append(database)
        return production_app(self.secret, self.production_env, mongodb_uri=self.mongodb_uri,
                              database=database, **self.create("production"))

    def close(self) -> None:
        if self.mongodb_uri:
            for database in self.databases:
                drop_database(self.mongodb_uri, database)


@pytest.fixture
def wfe_servers(request: pytest.FixtureRequest, wfe_secret: str, wfe_virtual_env: dict[str, str],
                wfe_production_env: dict[str, str],
                wfe_create_kwargs: CreateKwargs) -> Iterator[_Servers]:
    servers = _Servers(request, wfe_secret, wfe_virtual_env, wfe_production_env,
                       wfe_create_kwargs)
    yield servers
    servers.close()


@async_fixture
async def wfe_virtual(wfe_servers: _Servers) -> AsyncIterator[VirtualClient]:
    async with VirtualClient.for_app(wfe_servers.virtual(),
                                     token=access_token(wfe_servers.secret)) as client:
        yield client


async def logged_in(app: Any, client: ProductionClient, username: str = TEST_USER) -> None:
    await add_user(app, username)
    await client.login(username, PASSWORD)


@async_fixture
async def wfe_production(wfe_servers: _Servers) -> AsyncIterator[ProductionClient]:
    app = wfe_servers.production()
    async with ProductionClient.for_app(app) as client:
        await logged_in(app, client)
        yield client


# ---------------------------------------------------------------- workflow_run


class WorkflowRunner:
    """`await workflow_run(workflow, answers, ...)`; see the module docstring."""

    def __init__(self, servers: _Servers) -> None:
        self.servers = servers

    async def __call__(self, workflow: str | Path | dict[str, Any], answers: Script, *,
                       server: Literal["virtual", "production"] = "virtual",
                       entry_point: str | None = None, target: tuple[str, str] | None = None,
                       stop_at: str | None = None, mock: bool = True,
                       project_name: str = "pytest") -> WalkResult:
        if server == "virtual":
            return await self._virtual(workflow, answers, entry_point, target, stop_at, mock)
        if target is not None:
            raise ValueError("target= is for the virtual server; production runs to the end "
                             "(use stop_at= to stop at a module)")
        app = self.servers.production()
        async with ProductionClient.for_app(app) as client:
            await logged_in(app, client)
            await client.start(workflow, project_name=project_name, entry_point=entry_point,
                               mock=mock)
            return await walk(client, answers, stop_at=stop_at)

    async def _virtual(self, workflow: Any, answers: Script, entry_point: str | None,
                       target: tuple[str, str] | None, stop_at: str | None,
                       mock: bool) -> WalkResult:
        async with VirtualClient.for_app(self.servers.virtual(),
                                         token=access_token(self.servers.secret),
                                         workflow=workflow, entry_point=entry_point,
                                         mock=mock) as client:
            if target is not None:
                client.target = Target(step_id=target[0], module_name=target[1])
            await client.start()
            return await walk(client, answers, stop_at=stop_at)


@pytest.fixture
def workflow_run(wfe_servers: _Servers) -> WorkflowRunner:
    return WorkflowRunner(wfe_servers)


__all__ = ["WorkflowRunner", "pytest_configure", "wfe_create_kwargs", "wfe_mongodb_uri",
           "wfe_production", "wfe_production_env", "wfe_secret", "wfe_servers", "wfe_virtual",
           "wfe_virtual_env", "workflow_run"]
