"""The system under load, started and stopped here: a fresh PostgreSQL database,
``proofing serve``, and zero or more ``proofing worker`` processes on a private Redis
database. Every process is a process group of its own and is killed by its end; the
database and the queue are dropped. Loopback only."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

PG_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
#: Redis databases of their own (one per stack running at the same time): the Redis
#: transport's queue and unacked set are per database.
REDIS_SERVER = "redis://127.0.0.1:6379"
REDIS_DBS = (12, 13, 14)
QUEUE = "proofing"
BIN = Path(sys.executable).parent


def require_loopback(host: str) -> None:
    """Refuse any target that is not this machine's loopback (load goes nowhere else)."""
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror as e:
        raise SystemExit(f"refusing host {host!r}: does not resolve ({e})") from None
    addrs = {str(i[4][0]) for i in infos}
    bad = [a for a in addrs if not ipaddress.ip_address(a.split("%")[0]).is_loopback]
    if not addrs or bad:
        raise SystemExit(f"refusing host {host!r}: {', '.join(sorted(bad or addrs))} is not loopback; "
                         "this load generator only targets 127.0.0.0/8 or ::1")


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def tree_pids(pid: int) -> list[int]:
    """``pid`` and all its descendants (from /proc's children lists)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:  # a process may exit while we walk (a worker killed by the soak)
            tasks = list(Path(f"/proc/{p}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            with contextlib.suppress(OSError, ValueError):
                todo += [int(c) for c in (task / "children").read_text().split()]
    return out


def rss_bytes(pid: int) -> int:
    """Resident set size of ``pid`` and its descendants (shared pages counted per process)."""
    total = 0
    for p in tree_pids(pid):
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
                    break
    return total


class Proc:
    """A child process group with its log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, argv, env, log
        self._out = log.open("ab")
        self.popen = subprocess.Popen(argv, env=env, stdout=self._out, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL, wait_s: float = 20.0) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(timeout=wait_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)
        deadline = time.monotonic() + 10  # the pool children of a worker share its group
        while time.monotonic() < deadline:
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        self._out.close()

    def stop(self) -> None:
        """SIGTERM (a clean shutdown), then SIGKILL."""
        self.kill(signal.SIGTERM, wait_s=15.0)

    def text(self) -> str:
        return self.log.read_bytes().decode(errors="replace")


@dataclass
class Stack:
    """Server (+ workers) over a fresh database. ``workers`` lists each worker process's
    concurrency; empty means the server's in-process executor."""

    workdir: Path
    host: str = "127.0.0.1"
    workers: list[int] = field(default_factory=list)
    lease_s: float = 300.0
    visibility_s: int = 0
    trust_file: Path | None = None
    redis_db: int = REDIS_DBS[0]
    models_dir: str | None = None
    db_name: str = field(default_factory=lambda: f"proofing_load_{secrets.token_hex(4)}")
    server: Proc | None = None
    worker_procs: list[Proc] = field(default_factory=list)
    port: int = 0
    env: dict[str, str] = field(default_factory=dict)
    engine: Any = None

    @property
    def db_url(self) -> str:
        return f"{PG_SERVER}/{self.db_name}"

    @property
    def redis_url(self) -> str:
        return f"{REDIS_SERVER}/{self.redis_db}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        from sqlalchemy import create_engine, text

        from proofing.review.crypto import new_key_spec

        require_loopback(self.host)
        self.workdir.mkdir(parents=True, exist_ok=True)
        admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{self.db_name}"'))
        admin.dispose()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PROOFING_")}
        self.env.update({
            "PROOFING_DATA_DIR": str(self.workdir / "data"),
            "PROOFING_DATABASE_URL": self.db_url,
            "PROOFING_EVIDENCE_KEYS": new_key_spec("load"),
            "PROOFING_SECRET_KEY": secrets.token_hex(32),
            "PROOFING_MODELS_DIR": self.models_dir or os.environ.get("PROOFING_MODELS_DIR", ""),
            "PYTHONUNBUFFERED": "1",
        })
        if self.trust_file:
            self.env["PROOFING_TRUST"] = str(self.trust_file)
        if self.workers:
            self.env["PROOFING_BROKER_URL"] = self.redis_url
            self._drop_queue()
        self.port = free_port(self.host)
        self.server = Proc("server", [str(BIN / "proofing"), "serve", "--host", self.host, "--port", str(self.port),
                                      "--log-level", "warning"], self.env, self.workdir / "server.log")
        self._wait_http(90.0)
        for i, conc in enumerate(self.workers):
            self.worker_procs.append(self._start_worker(i, conc))
        self.wait_warm(240.0)
        self.engine = create_engine(self.db_url, pool_pre_ping=True)

    def _start_worker(self, i: int, concurrency: int) -> Proc:
        argv = [str(BIN / "proofing"), "worker", "--concurrency", str(concurrency), "--queues", QUEUE,
                "--lease-s", str(self.lease_s), "--loglevel", "info", "--name", f"load{i}-{secrets.token_hex(3)}@%h"]
        if self.visibility_s:
            argv += ["--visibility-timeout", str(self.visibility_s)]
        return Proc(f"worker{i}", argv, self.env, self.workdir / f"worker{i}.log")

    def restart_worker(self, i: int) -> None:
        """SIGKILL worker ``i`` (main process and pool children) and start a fresh one."""
        old = self.worker_procs[i]
        old.kill()
        self.worker_procs[i] = self._start_worker(i, self.workers[i])

    def wait_warm(self, timeout: float, procs: list[Proc] | None = None) -> None:
        deadline = time.monotonic() + timeout
        for p, conc in zip(procs or self.worker_procs, self.workers, strict=False):
            while p.text().count(" warm in ") < conc:
                if not p.alive:
                    raise RuntimeError(f"{p.name} exited:\n{p.text()[-3000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{p.name} not warm after {timeout:.0f} s:\n{p.text()[-3000:]}")
                time.sleep(0.2)

    def _wait_http(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.server is not None
            if not self.server.alive:
                raise RuntimeError(f"server exited:\n{self.server.text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"server not answering after {timeout:.0f} s")

    def pids(self) -> dict[str, int]:
        out = {"server": self.server.popen.pid} if self.server and self.server.alive else {}
        out.update({p.name: p.popen.pid for p in self.worker_procs if p.alive})
        return out

    def _drop_queue(self) -> None:
        import redis

        client = redis.Redis.from_url(self.redis_url)
        try:
            client.delete(QUEUE, "unacked", "unacked_index", f"_kombu.binding.{QUEUE}",
                          f"_kombu.binding_permanent.{QUEUE}")
        finally:
            client.close()

    def stop(self) -> None:
        for p in self.worker_procs:
            p.stop()
        if self.server is not None:
            self.server.stop()
        if self.engine is not None:
            self.engine.dispose()
        if self.workers:
            with contextlib.suppress(Exception):
                self._drop_queue()
        from sqlalchemy import create_engine, text

        admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)'))
        finally:
            admin.dispose()

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
