# ruff: noqa: F811  (pytest fixtures imported from proofing.review.testing)
"""Sessions decided by real Celery workers: a real Redis broker, a real PostgreSQL store
(a fresh database), worker processes started here and killed with SIGKILL mid-session.
The outcome must be one decision per session, whoever ran it and however often."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from sqlalchemy import func, select

from proofing.intake import add_frames, create_session, get_session, set_chip, submit
from proofing.intake.models import ApplicantSession
from proofing.review.models import Case
from proofing.review.store import ReviewStore, open_store
from proofing.review.testing import KEYS, empty, pg_url  # noqa: F401
from proofing.settings import Settings

REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 11
AMQP_HOST, AMQP_PORT = "127.0.0.1", 5672
BIN = Path(sys.executable).parent
#: A warm-up (every model loaded) plus one session, on a busy 2-core machine.
DECIDE_TIMEOUT_S = 150.0


def _reachable(host: str, port: int, probe: bytes, expect: bytes) -> str | None:
    """None when a server answers like the expected one, else why not."""
    try:
        with socket.create_connection((host, port), timeout=2) as sock:
            sock.sendall(probe)
            answer = sock.recv(16)
    except OSError as e:
        return f"not reachable at {host}:{port} ({e})"
    return None if answer.startswith(expect) else f"unexpected answer at {host}:{port}: {answer!r}"


@pytest.fixture(scope="module", params=["redis", "amqp"])
def broker_url(request: pytest.FixtureRequest) -> str:
    """A real broker: Redis (the default) and RabbitMQ (by amqp:// URL)."""
    if request.param == "redis":
        why = _reachable(REDIS_HOST, REDIS_PORT, b"PING\r\n", b"+PONG")
        if why:
            pytest.skip(f"Redis {why}")
        return f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
    why = _reachable(AMQP_HOST, AMQP_PORT, b"AMQP\x00\x00\x09\x01", b"\x01")
    if why:
        pytest.skip(f"RabbitMQ {why}")
    return f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}//"


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Path]:
    from proofing.nfc import testpki
    from proofing.pipeline.samples import make_samples

    s = make_samples(n_selfie=5)
    profile = testpki.make_profile(s.mrz_lines, face_jpeg=s.portrait_jpeg)
    csca = tmp_path_factory.mktemp("trust") / "test-csca.der"
    csca.write_bytes(profile.csca_der)  # the worker trusts the test PKI through PROOFING_TRUST
    return s, profile, csca


@pytest.fixture()
def env(tmp_path: Path, pg_url: str, broker_url: str, samples: Any, models_dir: Path) -> Iterator[dict[str, Any]]:
    """Settings shared by this test and its workers, a unique queue, an emptied database."""
    queue = f"test-{uuid.uuid4().hex[:10]}"
    settings = Settings(data_dir=tmp_path / "data", evidence_keys=KEYS, database_url=pg_url,
                        broker_url=broker_url, trust_paths=(samples[2],))
    store = open_store(settings=settings)
    empty(store)
    environ = {**os.environ, "PROOFING_DATA_DIR": str(settings.data_dir), "PROOFING_EVIDENCE_KEYS": KEYS,
               "PROOFING_DATABASE_URL": pg_url, "PROOFING_BROKER_URL": broker_url,
               "PROOFING_TRUST": str(samples[2]), "PROOFING_MODELS_DIR": str(models_dir)}
    try:
        yield {"settings": settings, "store": store, "queue": queue, "environ": environ, "tmp": tmp_path}
    finally:
        store.close()
        _drop_queue(broker_url, queue)


def _drop_queue(broker_url: str, queue: str) -> None:
    """Leave the broker as it was: the test's queue, its exchange or Redis binding keys."""
    if broker_url.startswith("redis"):
        import redis

        client = redis.Redis.from_url(broker_url)
        try:
            client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        finally:
            client.close()
        return
    from kombu import Connection

    with Connection(broker_url, connect_timeout=3) as conn:
        channel = conn.default_channel
        for drop in (channel.queue_delete, channel.exchange_delete):
            with contextlib.suppress(Exception):
                drop(queue)


def jpeg(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return buf.tobytes()


def fill(store: ReviewStore, settings: Settings, samples: Any) -> str:
    s, profile, _ = samples
    info, _ = create_session(store, settings=settings)
    add_frames(store, info.id, "document", [jpeg(s.page)], settings=settings)
    add_frames(store, info.id, "selfie", [jpeg(f) for f in s.selfie], settings=settings)
    set_chip(store, info.id, dict(profile.files), profile.sign_aa(info.challenge))
    submit(store, info.id)
    return info.id


class Worker:
    """A worker process group started for one test and always killed by its end."""

    def __init__(self, argv: list[str], environ: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        self.proc = subprocess.Popen(argv, env=environ, stdout=self._out, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # the main process and its children
        self.proc.wait(timeout=30)
        self._reap_group()
        self._out.close()

    def _reap_group(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return
            os.killpg(self.proc.pid, signal.SIGKILL)
            time.sleep(0.1)

    def tail(self, n: int = 4000) -> str:
        return self.log.read_bytes()[-n:].decode(errors="replace")


def proofing_worker(env: dict[str, Any], name: str, *extra: str) -> Worker:
    argv = [str(BIN / "proofing"), "worker", "--concurrency", "1", "--queues", env["queue"],
            "--loglevel", "info", "--name", f"{name}-{uuid.uuid4().hex[:6]}@%h", *extra]
    return Worker(argv, env["environ"], env["tmp"] / f"{name}.log")


def wait_for(store: ReviewStore, sid: str, statuses: set[str], timeout: float, workers: list[Worker]) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = get_session(store, sid).status
        if status in statuses:
            return status
        for w in workers:
            assert w.proc.poll() is None, f"worker exited early:\n{w.tail()}"
        time.sleep(0.02)
    logs = "\n".join(f"--- {w.log.name}\n{w.tail()}" for w in workers)
    raise AssertionError(f"session still {status!r} after {timeout:.0f} s\n{logs}")


#: Reasons that would mean the worker did not see the uploads or the configured trust.
DOCUMENT_REASONS = ("SOD_", "DG_", "CSCA_", "CERTIFICATE_", "AA_", "CA_", "CHIP_", "MRZ_", "DG1_")


def assert_machine_decided(info: Any, worker: Worker) -> None:
    """Decided by the pipeline with the chip verified against PROOFING_TRUST. Liveness and
    face are left to tests/test_intake.py: here only where the session ran matters."""
    assert info.status == "decided" and info.decision in ("ACCEPT", "REVIEW"), (info.reasons, worker.tail())
    codes = [r["code"] for r in info.reasons]
    assert not [c for c in codes if c.startswith(DOCUMENT_REASONS)], (codes, worker.tail())


def case_count(store: ReviewStore, sid: str) -> int:
    with store.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Case).where(Case.session_id == sid)) or 0)


@pytest.mark.slow
def test_worker_decides_a_submitted_session(env: dict[str, Any], samples: Any) -> None:
    from proofing.worker.client import CeleryExecutor

    store, settings = env["store"], env["settings"]
    # The stock entry point, configured from the environment alone.
    worker = Worker([str(BIN / "celery"), "-A", "proofing.worker.app", "worker", "-Q", env["queue"],
                     "--concurrency", "1", "--loglevel", "info", "--without-gossip", "--without-mingle",
                     "-n", f"plain-{uuid.uuid4().hex[:6]}@%h"], env["environ"], env["tmp"] / "plain.log")
    executor = CeleryExecutor(settings, queue=env["queue"])
    try:
        sid = fill(store, settings, samples)
        executor.submit(sid)
        wait_for(store, sid, {"decided"}, DECIDE_TIMEOUT_S, [worker])
        info = get_session(store, sid)
        assert_machine_decided(info, worker)
        executor.submit(sid)  # a duplicate message: the decided session is returned as it is
        deadline = time.monotonic() + 30
        while worker.log.read_bytes().count(b"] succeeded in") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert worker.log.read_bytes().count(b"] succeeded in") == 2, worker.tail()
        assert get_session(store, sid).decided_at == info.decided_at
        assert case_count(store, sid) == 1
        with store.sessions() as s:
            row = s.get(ApplicantSession, sid)
            assert row is not None and row.attempts == 1 and row.run_by and row.run_by.split(":")[-1].isdigit()
            summary = row.summary or ""
        assert '"timings_ms"' in summary
    finally:
        executor.shutdown()
        worker.kill()


@pytest.mark.slow
def test_killed_worker_session_is_decided_once_by_another(env: dict[str, Any], samples: Any) -> None:
    from proofing.worker.client import CeleryExecutor

    store, settings = env["store"], env["settings"]
    # A 3 s lease and (Redis) a 6 s redelivery: the takeover happens in seconds, not minutes.
    # RabbitMQ redelivers as soon as the dead worker's connection closes.
    fast = ("--lease-s", "3", "--visibility-timeout", "6")
    first = proofing_worker(env, "first", *fast)
    workers = [first]
    executor = CeleryExecutor(settings, queue=env["queue"])
    try:
        sid = fill(store, settings, samples)
        executor.submit(sid)
        wait_for(store, sid, {"processing", "decided"}, DECIDE_TIMEOUT_S, workers)
        first.kill()  # SIGKILL the whole worker mid-session: no ack, no cleanup, lease left behind
        with store.sessions() as s:
            row = s.get(ApplicantSession, sid)
            assert row is not None
            assert row.status == "processing", "the first worker finished before it could be killed"
            dead_run = row.run_by
        assert case_count(store, sid) == 0

        second = proofing_worker(env, "second", *fast)
        workers.append(second)
        wait_for(store, sid, {"decided"}, DECIDE_TIMEOUT_S, [second])
        info = get_session(store, sid)
        assert_machine_decided(info, second)
        assert case_count(store, sid) == 1
        with store.sessions() as s:
            row = s.get(ApplicantSession, sid)
            assert row is not None and row.attempts >= 2 and row.run_by != dead_run
        # No second decision creeps in later (a redelivered copy finds it decided).
        time.sleep(3)
        assert case_count(store, sid) == 1 and get_session(store, sid).decided_at == info.decided_at
    finally:
        executor.shutdown()
        for w in workers:
            w.kill()


def test_delivery_settings() -> None:
    """Late acks, requeue on a lost worker, one task per child; Redis redelivery > lease."""
    from proofing.worker.config import make_celery

    redis_app = make_celery(Settings(broker_url="redis://127.0.0.1:6379/3"), lease_s=120)
    conf = redis_app.conf
    assert conf.task_acks_late and conf.task_reject_on_worker_lost and conf.worker_prefetch_multiplier == 1
    assert conf.broker_transport_options["visibility_timeout"] == 240 and conf.proofing_lease_s == 120
    rabbit = make_celery(Settings(broker_url="amqp://guest:guest@127.0.0.1:5672//"))
    assert rabbit.conf.broker_url.startswith("amqp://") and not rabbit.conf.broker_transport_options
    assert make_celery(Settings()).conf.broker_url == "redis://127.0.0.1:6379/0"


def test_maintenance_finds_stranded_sessions(tmp_path: Path, pg_url: str) -> None:
    """Sessions whose message was lost (submitted long ago) or whose worker died (lease
    expired) are found for re-queueing; a recent or live one is left alone."""
    from datetime import timedelta

    from proofing.intake.process import _take_lease
    from proofing.review.testing import FakeClock
    from proofing.worker.tasks import busy_countdown, stranded_sessions

    clock = FakeClock()
    store = open_store(pg_url, settings=Settings(data_dir=tmp_path / "data", evidence_keys=KEYS), clock=clock)
    empty(store)
    settings = Settings(data_dir=tmp_path / "data", evidence_keys=KEYS)
    frame = jpeg(np.random.default_rng(1).integers(0, 255, (240, 320, 3), dtype=np.uint8))
    try:
        def submitted() -> str:
            info, _ = create_session(store, settings=settings)
            add_frames(store, info.id, "selfie", [frame], settings=settings)
            submit(store, info.id)
            return info.id

        lost, dead, live = submitted(), submitted(), submitted()
        _take_lease(store, dead, "dead-worker", timedelta(minutes=5))
        _take_lease(store, live, "live-worker", timedelta(hours=1))
        clock.advance(timedelta(minutes=20))
        recent = submitted()
        assert sorted(stranded_sessions(store, 900)) == sorted([lost, dead])
        assert recent not in stranded_sessions(store, 900) and live not in stranded_sessions(store, 0)
    finally:
        store.close()
    assert 0.8 <= busy_countdown(0, 300) <= 1.2 and busy_countdown(20, 3) <= 3.6
