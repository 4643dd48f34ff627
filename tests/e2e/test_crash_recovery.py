"""Crash tests (issue 15): kill -9 of the production server, then of the database, in the middle
of a burst of answers, on a wire-protocol MongoDB with a storage directory (secantusd). After the
restart every answer the server acknowledged is stored exactly once and every run completes.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

from tests.e2e.crash_support import (
    Database,
    Server,
    create_user,
    answer_burst,
    answered_once_each,
    finish,
    start_runs,
    stored_once,
)

RUNS, QUESTIONS = 8, 8


def test_server_killed_mid_burst_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    db = Database(tmp_path / "data")
    db.start()
    server = Server(db, "crash_" + uuid.uuid4().hex[:8])
    try:
        create_user(db, server.name)
        server.start()
        server.login()
        pending = start_runs(server, RUNS, QUESTIONS)
        killed = threading.Event()

        def kill_at(total: int) -> None:
            if total >= RUNS * QUESTIONS // 3 and not killed.is_set():
                killed.set()
                server.kill9()  # while the other runs' answers are in flight

        acked = answer_burst(server, pending, kill_at)
        assert killed.is_set() and len(acked) < RUNS * QUESTIONS
        began = time.monotonic()
        server.start()  # same port, same database
        restart_s = time.monotonic() - began
        mongo = db.client()
        try:
            stored_once(mongo[server.name], acked)
            for run in pending:
                assert finish(server, run)["status"] == "completed"
            stored_once(mongo[server.name], acked)  # finishing replayed nothing twice
            answered_once_each(mongo[server.name], pending, QUESTIONS)
        finally:
            mongo.close()
        assert restart_s < 30
    finally:
        server.stop()
        db.stop()


def test_database_killed_mid_burst_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    db = Database(tmp_path / "data")
    db.start()
    server = Server(db, "crash_" + uuid.uuid4().hex[:8])
    try:
        create_user(db, server.name)
        server.start()
        server.login()
        pending = start_runs(server, RUNS, QUESTIONS)
        killed = threading.Event()

        def kill_at(total: int) -> None:
            if total >= RUNS * QUESTIONS // 3 and not killed.is_set():
                killed.set()
                db.kill9()

        acked = answer_burst(server, pending, kill_at)
        assert killed.is_set() and len(acked) < RUNS * QUESTIONS
        # while it is down the server fails fast (test_database_down.py has the details)
        began = time.monotonic()
        down = server.call("GET", f"/workflow/{next(iter(pending))}/state", timeout=10)
        assert down.status_code == 503 and time.monotonic() - began < 1.5, down.text
        db.start()  # same port, same storage directory
        mongo = db.client()
        try:
            stored_once(mongo[server.name], acked)
            for run in pending:
                assert finish(server, run)["status"] == "completed"
            stored_once(mongo[server.name], acked)  # finishing replayed nothing twice
            answered_once_each(mongo[server.name], pending, QUESTIONS)
        finally:
            mongo.close()
    finally:
        server.stop()
        db.stop()
