"""Test support for the review store: a controllable clock, a throw-away PostgreSQL
database, store fixtures for both backends, and the child process of the crash test.
Imported by ``tests/test_review_*.py`` only (it needs pytest)."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from proofing.review.audit import GENESIS
from proofing.review.cases import (
    CaseView,
    EvidenceIn,
    ReasonIn,
    add_user,
    file_case,
    get_case,
    read_evidence,
)
from proofing.review.crypto import new_key_spec
from proofing.review.store import ReviewStore, open_store
from proofing.settings import Settings

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
KEYS = new_key_spec("k1")
TABLES = ("intake_uploads, intake_sessions, intake_rate_counters, "
          "review_audit, review_evidence, review_reasons, review_cases, review_users")


class FakeClock:
    """UTC time that tests move forward by hand (leases, SLAs, retention)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime.now(UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self.now += delta


def settings_for(data_dir: Path, keys: str = KEYS) -> Settings:
    return Settings(data_dir=data_dir, evidence_keys=keys)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh database ``proofing_test_<random>`` on the local server, dropped afterwards."""
    name = f"proofing_test_{secrets.token_hex(4)}"
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as e:  # any failure to reach the server means skip
        admin.dispose()
        first_line = str(e).strip().splitlines()[0][:160] if str(e).strip() else ""
        pytest.skip(f"PostgreSQL not reachable at {PG_SERVER} ({type(e).__name__}: {first_line})")
    try:
        # Commits need not survive a server crash here: skipping the WAL flush per commit
        # keeps the 200-case concurrency test fast without changing what it checks.
        yield f"{PG_SERVER}/{name}?options=-csynchronous_commit%3Doff"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'review.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture()
def store(db_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[ReviewStore]:
    """An empty, migrated store on each backend, with the standard users."""
    st = open_store(db_url, settings=settings_for(tmp_path / "data"), clock=clock)
    empty(st)
    for name, role in USERS.items():
        add_user(st, name, role)
    try:
        yield st
    finally:
        st.close()


def empty(st: ReviewStore) -> None:
    """PostgreSQL: the database is shared by a module's tests, so each starts by emptying it."""
    if st.dialect == "postgresql":
        with st.engine.begin() as c:
            c.execute(text(f"TRUNCATE {TABLES}"))
            c.execute(text("UPDATE review_audit_head SET seq = 0, hash = :g"), {"g": GENESIS})


USERS = {
    "alice": "reviewer",
    "bob": "reviewer",
    "carol": "senior_reviewer",
    "vic": "viewer",
    "ada": "admin",
}


def new_case(store: ReviewStore, *, machine: str = "REVIEW", session_id: str | None = None,
             priority: int = 0, evidence: bool = True, **kw: Any) -> str:
    """A case like the pipeline files one, with a document image, a selfie and a chip file."""
    blobs = [
        EvidenceIn("document_image", "image/jpeg", b"\xff\xd8doc-" + secrets.token_bytes(16)),
        EvidenceIn("selfie", "image/jpeg", b"\xff\xd8selfie-" + secrets.token_bytes(16)),
        EvidenceIn("chip_file", "application/octet-stream", b"DG2-" + secrets.token_bytes(16)),
    ] if evidence else []
    return file_case(
        store,
        session_id=session_id or f"s-{secrets.token_hex(4)}",
        machine_decision=machine,
        reasons=[ReasonIn("FACE_LOW", "face match score below the accept threshold")],
        risk_score=0.5,
        policy_hash="policy-sha256-test",
        priority=priority,
        evidence=blobs,
        **kw,
    )


def get_case_view(store: ReviewStore, case_id: str) -> CaseView:
    return get_case(store, case_id, "ada")


def read(store: ReviewStore, evidence_id: str) -> bytes:
    return read_evidence(store, evidence_id, "ada")


def child_decide(url: str, data_dir: str, case_id: str, reviewer: str, conn: Any) -> None:
    """Crash-test child: start deciding, stop inside the open transaction (after the UPDATE
    and the audit INSERT reached the server) and wait there to be killed."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from proofing.review.queue import decide

    st = open_store(url, settings=settings_for(Path(data_dir)))

    def hang(session: Session) -> None:
        session.flush()
        conn.send("in-transaction")
        time.sleep(600)

    event.listen(Session, "before_commit", hang)
    decide(st, case_id, reviewer, "REJECT", "crash test")
