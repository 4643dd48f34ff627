"""Everything a request needs, built once per app: settings, pool, engine, store, auth pieces.

The database client and the engine's store bridge bind to the event loop, so they are created at
startup (on the loop that serves requests) rather than in `create_app`. A database that does not
answer at startup is one clear log line, not a traceback and not a failed start: the server
comes up, answers 503 `database_unavailable` at once (app.py's request gate) and keeps trying in
the background until the database answers, then finishes opening it (indexes, migrations, the
development admin, media jobs).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, TypeVar

from db.pipeline_eval import MongomockPipelineEvaluator
from db.production_store import (
    AsyncReads,
    ProductionStore,
    StoreAdapter,
    ensure_indexes,
    open_adapter,
)
from db.users import UserDirectory
from engine import (
    Clock,
    EnginePool,
    IdGenerator,
    ProviderSet,
    StoreUnavailable,
    WorkflowEngine,
    default_registry,
    set_switch_interval,
)
from production_server.auth.ratelimit import LoginLimiter
from production_server.auth.repo import AuthRepo
from production_server.auth.tokens import TokenService
from production_server.cancellation import CancelRegistry, StreamCounter
from production_server.settings import ProductionSettings
from providers.credentials import build_credentials

if TYPE_CHECKING:  # jobs import the route helpers, which import this module
    from production_server.jobs.media import MediaJobs

log = logging.getLogger("production_server")
T = TypeVar("T")
STARTUP_PING_S = 3.0
RECONNECT_EVERY_S = 2.0


def redacted_uri(uri: str | None) -> str:
    """The URI without its password, for log lines and error bodies."""
    if not uri:
        return "the embedded in-memory database"
    scheme, sep, rest = uri.partition("://")
    userinfo, at, host = rest.rpartition("@")
    return f"{scheme}{sep}{userinfo.split(':')[0]}:***@{host}" if at else uri


class RunOwners:
    """Which user owns which run, as this process has read it (issue 13): a run's owner never
    changes, so a body naming a run its user was already found to own skips the ownership read.
    Only confirmed ownership is kept; a deleted run is still a 404 (from the engine's load)."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._owners: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def owns(self, user_id: str, run_id: str) -> bool:
        with self._lock:
            return self._owners.get(run_id) == user_id

    def remember(self, user_id: str, run_id: str) -> None:
        if self.max_entries <= 0:
            return
        with self._lock:
            self._owners[run_id] = user_id
            self._owners.move_to_end(run_id)
            while len(self._owners) > self.max_entries:
                self._owners.popitem(last=False)


@dataclass
class Services:
    settings: ProductionSettings
    clock: Clock
    ids: IdGenerator
    providers: ProviderSet
    adapter_factory: Callable[[], StoreAdapter] | None = None
    pool: EnginePool = field(init=False)
    tokens: TokenService = field(init=False)
    limiter: LoginLimiter = field(init=False)
    registry: CancelRegistry = field(default_factory=CancelRegistry)
    owners: RunOwners = field(init=False)
    streams: StreamCounter = field(init=False)
    adapter: Any = None
    store: ProductionStore | None = None
    engine: WorkflowEngine | None = None
    _reads: AsyncReads | None = None
    auth: AuthRepo | None = None
    users: UserDirectory | None = None
    loop: asyncio.AbstractEventLoop | None = None
    media_jobs: "MediaJobs | None" = None
    #: the database answered and was opened; until then requests answer 503 (app.py)
    ready: bool = field(default=False, init=False)
    _connect_task: "asyncio.Task[None] | None" = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        s = self.settings
        self.pool = EnginePool(s.engine_threads, s.engine_queue, nice=s.engine_nice)
        self.tokens = TokenService(s.jwt_secret, s.access_token_ttl_s, s.refresh_token_ttl_s)
        self.limiter = LoginLimiter(s.login_max_failures, s.login_window_s)
        self.streams = StreamCounter(s.sse_max_per_user)
        self.owners = RunOwners(s.cache_max_entries if s.caches else 0)

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        s = self.settings
        self.loop = asyncio.get_running_loop()
        set_switch_interval(s.switch_interval_ms)
        if self.adapter_factory is not None:
            self.adapter = self.adapter_factory()
        else:
            self.adapter = open_adapter(s.mongodb_uri, s.mongodb_database, driver=s.mongo_driver,
                                        write_concern=s.mongo_write_concern,
                                        server_selection_timeout_ms=s.db_selection_timeout_ms,
                                        breaker_open_s=s.db_breaker_open_s)
        if not s.mongodb_uri:
            log.warning("*** EMBEDDED IN-MEMORY DATABASE: nothing is persisted; set "
                        "WFE_MONGODB_URI for real use ***")
        if s.mock_by_default:
            log.warning("*** DEVELOPMENT DEFAULT: no LLM key is configured, so runs started "
                        "without `mock` are MOCK runs (canned outputs, marked mock: true). Set "
                        "OPENAI_API_KEY/ANTHROPIC_API_KEY or WFE_DEFAULT_MOCK=false for live "
                        "runs ***")
        if s.jwt_secret_generated:
            log.warning("WFE_JWT_SECRET is not set: generated a random secret for this process "
                        "(tokens stop working on restart)")
        self.store = ProductionStore(self.adapter, self.loop, s.db_call_timeout_s)
        self._reads = self.store.reads
        self.users = UserDirectory(self.adapter, s.auth_cache_s)
        self.auth = AuthRepo(self.adapter, self.ids, self.users)
        self.engine = WorkflowEngine(
            store=self.store, providers=self.providers, registry=default_registry(),
            pipeline=MongomockPipelineEvaluator(), clock=self.clock, ids=self.ids,
            settings=s.engine_settings(), mode="production")
        from production_server.jobs.media import MediaJobs

        self.media_jobs = MediaJobs(settings=s, clock=self.clock, ids=self.ids,
                                    providers=self.providers, registry=self.registry,
                                    engine=self.engine, adapter=self.adapter,
                                    credentials=self.credentials)
        if await self.ping(STARTUP_PING_S):
            await self._open_database()
        else:
            log.error("cannot reach the database at %s (WFE_MONGODB_URI): requests answer 503 "
                      "until it answers; retrying every %.0f s", redacted_uri(s.mongodb_uri),
                      RECONNECT_EVERY_S)
            self._connect_task = asyncio.ensure_future(self._connect_when_reachable())

    async def _open_database(self) -> None:
        """Indexes and migrations (ST-13), the development admin, media jobs; then ready."""
        s = self.settings
        await ensure_indexes(self.adapter)
        if s.development and s.dev_admin_password:
            from production_server.auth.devadmin import ensure_dev_admin

            assert self.auth is not None
            await ensure_dev_admin(self.auth, s.dev_admin_username, s.dev_admin_password)
        assert self.media_jobs is not None
        await self.media_jobs.start()
        self.ready = True

    async def _connect_when_reachable(self) -> None:
        while not self.ready:
            await asyncio.sleep(RECONNECT_EVERY_S)
            if not await self.ping(STARTUP_PING_S):
                continue
            try:
                await self._open_database()
            except StoreUnavailable as exc:
                log.error("the database at %s went away while opening it (%s); retrying",
                          redacted_uri(self.settings.mongodb_uri), exc)
                continue
            log.info("database at %s reachable: serving requests",
                     redacted_uri(self.settings.mongodb_uri))

    async def stop(self) -> None:
        self.registry.cancel_all("server_shutdown")
        if self._connect_task is not None:
            self._connect_task.cancel()
        if self.media_jobs is not None and self.ready:
            await self.media_jobs.stop()
        deadline = time.monotonic() + 5.0
        while self.pool.in_flight and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        self.pool.shutdown(wait=False)
        if self.adapter is not None:
            try:
                await self.adapter.close()
            except Exception:
                log.exception("closing the database client failed")

    # ------------------------------------------------------------------ helpers

    @property
    def reads(self) -> AsyncReads:
        """The read plans of db/reads.py on the event loop: the routes' only way to the data."""
        assert self._reads is not None, "services not started"
        return self._reads

    def eng(self) -> WorkflowEngine:
        assert self.engine is not None, "services not started"
        return self.engine

    def batched(self, call: Callable[[], T]) -> T:
        """`call()` (an engine operation, on a pool thread) with its writes sent behind, before
        its next other database call and at its end (db/write_batch.py, issue 13). Off with
        `WFE_CACHES=false`, which turns every issue-13 fast path off for comparison."""
        assert self.store is not None, "services not started"
        if not self.settings.caches:
            return call()
        with self.store.batched_events():
            return call()

    def jobs(self) -> "MediaJobs":
        assert self.media_jobs is not None, "services not started"
        return self.media_jobs

    def credentials(self, ai_config: dict[str, Any] | None) -> dict[str, str]:
        """Per-call keys: request `ai_config` first, then server settings (PRV-2); never stored."""
        return build_credentials(self.settings.provider_keys, ai_config)

    async def database_problem(self, timeout_s: float = 2.0) -> dict[str, Any] | None:
        """None when the database answers a ping within `timeout_s`; otherwise what is wrong
        (the breaker's reason while it is open, db/breaker.py), for `/health`."""
        if await self.ping(timeout_s):
            return None
        breaker = getattr(self.adapter, "breaker", None)
        if breaker is not None and breaker.is_open:
            status: dict[str, Any] = breaker.status()
            return status
        return {"database": "not connected",
                "reason": f"no answer to a ping within {timeout_s:g} s"}

    async def ping(self, timeout_s: float = 2.0) -> bool:
        try:
            return bool(await asyncio.wait_for(self.adapter.ping(), timeout_s))
        except (TimeoutError, StoreUnavailable, OSError):
            return False
        except Exception:
            log.exception("database ping failed")
            return False
