"""The applicant side of the load: the demo's own samples as real uploads, one whole
session per call (create, document frames, chip files, selfie frames, submit, poll until
decided), and a closed-loop driver bounded in sessions and in time."""

from __future__ import annotations

import base64
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np


@dataclass
class Payload:
    """One applicant's uploads: ``doc`` and ``selfie`` JPEG frames, the chip's files and
    its AA key (the signature is made per session over the server's challenge)."""

    doc: list[bytes]
    selfie: list[bytes]
    chip: dict[str, bytes]
    sign_aa: Callable[[bytes], bytes]
    scale: float = 1.0

    @property
    def upload_bytes(self) -> int:
        return sum(map(len, self.doc)) + sum(map(len, self.selfie)) + sum(map(len, self.chip.values()))

    @property
    def megapixels(self) -> float:
        import cv2

        mp = 0.0
        for data in self.doc[:1] + self.selfie[:1]:
            img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_2)
            if img is not None:
                mp += img.shape[0] * img.shape[1] * 4 / 1e6
        return mp


class Samples:
    """The demo's page, portrait, selfie burst and test-PKI chip, made once."""

    def __init__(self) -> None:
        from proofing.nfc import testpki
        from proofing.pipeline.samples import make_samples

        self.samples = make_samples(n_selfie=12)
        self.profile = testpki.make_profile(self.samples.mrz_lines, face_jpeg=self.samples.portrait_jpeg)

    def payload(self, n_doc: int = 5, n_selfie: int = 8, scale: float = 1.0) -> Payload:
        import cv2

        def jpeg(img: np.ndarray) -> bytes:
            if scale != 1.0:
                img = cv2.resize(img, None, fx=scale, fy=scale,
                                 interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
            ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
            assert ok
            return buf.tobytes()

        page = self.samples.page
        h, w = page.shape[:2]
        docs = []
        for i in range(n_doc):  # a hand-held burst: small shifts and exposure changes
            m = np.array([[1, 0, 3 * np.sin(i)], [0, 1, 2 * np.cos(i)]], np.float32)
            shifted = cv2.warpAffine(page, m, (w, h), borderMode=cv2.BORDER_REPLICATE)
            docs.append(jpeg(cv2.convertScaleAbs(shifted, alpha=1.0 - 0.03 * i, beta=4 * i)))
        selfies = [jpeg(f) for f in itertools.islice(itertools.cycle(self.samples.selfie), n_selfie)]
        return Payload(docs, selfies, dict(self.profile.files), self.profile.sign_aa, scale)


class SourceAddresses:
    """Each simulated applicant connects from its own loopback address (127.0.1.1,
    127.0.1.2, ...): the server's per-address limit on new sessions applies per applicant,
    as it would for real clients, and no limit has to be switched off for the benchmark."""

    def __init__(self) -> None:
        self._n = itertools.count()
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            i = next(self._n) % (250 * 250)
        return f"127.0.{1 + i // 250}.{1 + i % 250}"


@dataclass
class Outcome:
    index: int
    started: float
    ended: float = 0.0
    session_id: str | None = None
    submitted_at: float | None = None
    upload_s: float | None = None
    status: str = "error"
    decision: str | None = None
    error: str | None = None

    @property
    def latency_s(self) -> float:
        return self.ended - self.started

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "session_id": self.session_id, "status": self.status,
                "decision": self.decision, "error": self.error, "latency_s": round(self.latency_s, 4),
                "upload_s": None if self.upload_s is None else round(self.upload_s, 4),
                "started": round(self.started, 4)}


def run_session(base_url: str, payload: Payload, source: str, index: int, *, poll_s: float = 0.1,
                decide_timeout_s: float = 180.0) -> Outcome:
    """One applicant, start to decision; every failure becomes ``error`` (never raises)."""
    out = Outcome(index=index, started=time.perf_counter())
    transport = httpx.HTTPTransport(local_address=source, retries=0)
    try:
        with httpx.Client(base_url=base_url, transport=transport, timeout=60.0) as http:
            r = http.post("/v1/sessions")
            r.raise_for_status()
            created = r.json()
            sid, token = created["session_id"], created["applicant_token"]
            out.session_id = sid
            http.headers["Authorization"] = f"Bearer {token}"
            frames = [("frames", (f"page{i}.jpg", d, "image/jpeg")) for i, d in enumerate(payload.doc)]
            http.post(f"/v1/sessions/{sid}/document", files=frames).raise_for_status()
            challenge = bytes.fromhex(created["challenge"])
            chip = {"files": {k: base64.b64encode(v).decode() for k, v in payload.chip.items()},
                    "aa_signature": base64.b64encode(payload.sign_aa(challenge)).decode()}
            http.post(f"/v1/sessions/{sid}/chip", json=chip).raise_for_status()
            frames = [("frames", (f"selfie{i}.jpg", d, "image/jpeg")) for i, d in enumerate(payload.selfie)]
            http.post(f"/v1/sessions/{sid}/selfie", files=frames).raise_for_status()
            http.post(f"/v1/sessions/{sid}/submit").raise_for_status()
            out.submitted_at = time.perf_counter()
            out.upload_s = out.submitted_at - out.started
            deadline = out.submitted_at + decide_timeout_s
            while True:
                state = http.get(f"/v1/sessions/{sid}")
                state.raise_for_status()
                body = state.json()
                if body["status"] == "decided":
                    out.status, out.decision = "decided", body.get("decision")
                    break
                if body["status"] not in ("submitted", "processing"):
                    out.error = f"status {body['status']}"
                    break
                if time.perf_counter() > deadline:
                    out.status, out.error = "timeout", f"not decided within {decide_timeout_s:.0f} s"
                    break
                time.sleep(poll_s)
    except httpx.HTTPStatusError as e:
        out.error = f"HTTP {e.response.status_code} {e.request.method} {e.request.url.path}: {e.response.text[:200]}"
    except Exception as e:  # connection refused / reset while a process restarts, timeouts
        out.error = f"{type(e).__name__}: {e}"[:300]
    out.ended = time.perf_counter()
    return out


@dataclass
class Drive:
    """Closed loop: ``concurrency`` applicants at a time, until ``max_sessions`` have
    started or ``max_s`` has passed; a session in flight at the time limit finishes."""

    base_url: str
    payload: Payload
    concurrency: int
    max_sessions: int
    max_s: float
    sources: SourceAddresses = field(default_factory=SourceAddresses)
    poll_s: float = 0.1
    decide_timeout_s: float = 180.0
    outcomes: list[Outcome] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0

    def run(self) -> list[Outcome]:
        counter = itertools.count()
        lock = threading.Lock()
        self.started = time.perf_counter()
        stop_at = self.started + self.max_s

        def loop() -> None:
            while time.perf_counter() < stop_at:
                with lock:
                    i = next(counter)
                if i >= self.max_sessions:
                    return
                o = run_session(self.base_url, self.payload, self.sources.next(), i, poll_s=self.poll_s,
                                decide_timeout_s=self.decide_timeout_s)
                with lock:
                    self.outcomes.append(o)

        threads = [threading.Thread(target=loop, daemon=True) for _ in range(self.concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.ended = time.perf_counter()
        return sorted(self.outcomes, key=lambda o: o.index)


class RssSampler:
    """Peak resident memory of the server and worker process trees, sampled in a thread."""

    def __init__(self, pids: Callable[[], dict[str, int]], every_s: float = 0.25) -> None:
        self.pids, self.every_s = pids, every_s
        self.peak_total = 0
        self.peak_by: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from benchmarks.load.stack import rss_bytes

        while not self._stop.is_set():
            try:
                sizes = {name: rss_bytes(pid) for name, pid in self.pids().items()}
            except Exception:  # a process went away mid-sample: sample again
                self._stop.wait(self.every_s)
                continue
            self.peak_total = max(self.peak_total, sum(sizes.values()))
            for k, v in sizes.items():
                self.peak_by[k] = max(self.peak_by.get(k, 0), v)
            self._stop.wait(self.every_s)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
