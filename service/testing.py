"""Test support for the service: settings on a throw-away data dir, an app and client over
a store, console logins, small real images and the project's demo session sent through
the API. Imported by ``tests/test_service_*.py`` only."""

from __future__ import annotations

import io
import os
import zlib
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from proofing.review.accounts import set_password
from proofing.review.store import ReviewStore
from proofing.review.testing import KEYS
from proofing.settings import Settings
from service.app import create_app
from service.security import CSRF_HEADER

PASSWORD = "correct horse battery staple"


def settings_for(data_dir: Path, db_url: str | None = None, **kw: Any) -> Settings:
    models = os.environ.get("PROOFING_MODELS_DIR")
    shared = os.environ.get("PROOFING_SHARED_DATA_DIR")
    return Settings(
        models_dir=Path(models) if models else None,
        data_dir=data_dir,
        database_url=db_url,
        shared_data_dir=Path(shared) if shared else None,
        evidence_keys=KEYS,
        secret_key="test-secret-" + "x" * 32,
        **kw,
    )


def client_for(settings: Settings, store: ReviewStore | None = None) -> TestClient:
    """A TestClient over a fresh app; raise_server_exceptions=False so a 500 is an answer."""
    return TestClient(create_app(settings, store), raise_server_exceptions=False)


def app_of(client: TestClient) -> FastAPI:
    app: FastAPI = client.app  # type: ignore[assignment]
    return app


def login(client: TestClient, store: ReviewStore, name: str) -> dict[str, str]:
    """Give ``name`` a password, log in; the headers an unsafe console call needs."""
    set_password(store, name, PASSWORD)
    r = client.post("/v1/auth/login", json={"username": name, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {CSRF_HEADER: r.json()["csrf_token"]}


def new_session(client: TestClient) -> tuple[str, dict[str, str], bytes]:
    """A session's id, its bearer header and its challenge."""
    r = client.post("/v1/sessions")
    assert r.status_code == 201, r.text
    body = r.json()
    return body["session_id"], {"Authorization": f"Bearer {body['applicant_token']}"}, bytes.fromhex(body["challenge"])


def jpeg(width: int = 64, height: int = 48, seed: int = 1) -> bytes:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    arr = rng.integers(0, 255, (height, width, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=80)
    return buf.getvalue()


def encode_jpeg(bgr: Any) -> bytes:
    import cv2

    ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return bytes(buf.tobytes())


def png_bomb(side: int = 10_000) -> bytes:
    """A real, valid greyscale PNG of side x side zero pixels: ~100 kB on the wire,
    side*side bytes once decoded (100 MB at the default side)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    comp = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + pixels
    parts = [comp.compress(row * 500) for _ in range(side // 500)]
    parts.append(comp.flush())
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b"")


def demo_evidence(challenge: bytes, n_selfie: int = 5) -> dict[str, Any]:
    """The demo's applicant (proofing.pipeline.samples): the rendered data page, the chip of
    the test PKI answering ``challenge`` with AA, the selfie burst; plus the CSCA to trust
    and the personal data that must never reach a log."""
    from proofing.nfc import testpki
    from proofing.pipeline.samples import DEMO_MRZ_ARGS, make_samples

    samples = make_samples(n_selfie)
    profile = testpki.make_profile(samples.mrz_lines, face_jpeg=samples.portrait_jpeg)
    dump = profile.dump(challenge)
    return {
        "page": encode_jpeg(samples.page),
        "selfie": [encode_jpeg(f) for f in samples.selfie],
        "chip_files": dict(dump.files),
        "aa_signature": dump.aa_signature,
        "csca_der": profile.csca_der,
        "secrets": [DEMO_MRZ_ARGS["surname"], DEMO_MRZ_ARGS["given_names"], DEMO_MRZ_ARGS["number"],
                    *samples.mrz_lines],
    }


def trust_context(csca_der: bytes) -> Any:
    from proofing.nfc.trust import TrustStore
    from proofing.pipeline import PipelineContext

    trust = TrustStore()
    trust.add_certificate(csca_der, "test CSCA")
    return PipelineContext(trust=trust)


def wait_processed(client: TestClient, timeout: float = 300) -> None:
    executor = app_of(client).state.executor
    if executor is not None and hasattr(executor, "wait"):
        executor.wait(timeout)
