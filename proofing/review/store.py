"""Opening the case store: engine, schema migrations, keys and blob storage in one object.

SQLite (the embedded default) serialises writers with ``BEGIN IMMEDIATE``: every write
transaction takes the database's write lock up front, so read-then-update sequences
(claiming, deciding, chaining the audit log) cannot interleave. Reads use plain deferred
transactions and, in WAL mode, never wait for a writer. PostgreSQL uses row locks
(``FOR UPDATE``, ``SKIP LOCKED`` for the queue) and many writers proceed in parallel.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from proofing.review.crypto import Keyring, keyring_from_settings
from proofing.review.storage import BlobStorage, storage_from_settings
from proofing.settings import Settings, get_settings

MIGRATIONS = Path(__file__).with_name("migrations")
_WRITE = "proofing_review_write"  # execution option: this transaction will write
_MIGRATION_LOCK = 0x70726F6F  # pg advisory lock id: concurrent openers migrate one at a time


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class ReviewStore:
    """Everything the review functions need. Build with :func:`open_store`."""

    engine: Engine
    keyring: Keyring
    storage: BlobStorage
    clock: Callable[[], datetime] = utcnow
    #: Read-only work (listing, viewing, verifying): never takes SQLite's write lock.
    sessions: sessionmaker[Session] = field(init=False)
    _writes: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        writer = self.engine.execution_options(**{_WRITE: True})
        self._writes = sessionmaker(writer, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One write transaction: commit on success, roll back on any exception."""
        with self._writes() as session, session.begin():
            yield session

    def close(self) -> None:
        self.engine.dispose()


def normalize_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3, the driver we install."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise ValueError("the case store needs a SQLite file (several connections share it)")
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # let us issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(_WRITE) else "BEGIN")

        return engine
    return create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest migration (no alembic.ini, no cwd involved)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.execution_options(**{_WRITE: True}).begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_store(
    url: str | None = None,
    *,
    settings: Settings | None = None,
    keyring: Keyring | None = None,
    storage: BlobStorage | None = None,
    clock: Callable[[], datetime] | None = None,
) -> ReviewStore:
    """Open (and migrate to head) the store at ``url``, by default the settings' URL.

    Keys come from ``PROOFING_EVIDENCE_KEYS`` (or a key generated once into the data dir
    for the embedded default); blobs go to ``data_dir/evidence``.
    """
    settings = settings or get_settings()
    engine = make_engine(url or settings.effective_database_url)
    try:
        migrate(engine)
        store = ReviewStore(
            engine=engine,
            keyring=keyring or keyring_from_settings(settings),
            storage=storage or storage_from_settings(settings),
            clock=clock or utcnow,
        )
    except BaseException:
        engine.dispose()
        raise
    return store
