# ruff: noqa: F811  (pytest fixtures imported from proofing.review.testing)
"""Applicant sessions end to end without HTTP, on SQLite and PostgreSQL: the demo's own
samples (a rendered page, a chip signed by the test PKI, a selfie burst) go in, one
decision comes out, exactly once, with a signed record that names nobody."""

from __future__ import annotations

import io
import json
import re
import threading
from datetime import timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from sqlalchemy import func, select

from proofing.evidence import JwsError, jwks, verify_record
from proofing.intake import (
    SessionBusy,
    SessionExpired,
    UploadRejected,
    add_frames,
    authenticate,
    create_session,
    erase_applicant,
    evidence_record,
    get_session,
    hit,
    process_session,
    set_chip,
    submit,
)
from proofing.intake.process import _record, _run, _take_lease
from proofing.review import InvalidState, NotFound, PermissionDenied, add_user
from proofing.review.accounts import set_password, verify_password
from proofing.review.models import Case, Evidence
from proofing.review.store import ReviewStore
from proofing.review.testing import FakeClock, clock, db_url, pg_url, settings_for, store  # noqa: F401
from proofing.settings import Settings


def jpeg(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    return buf.tobytes()


@pytest.fixture(scope="module")
def samples() -> object:
    from proofing.nfc import testpki
    from proofing.pipeline.samples import make_samples

    s = make_samples(n_selfie=5)
    profile = testpki.make_profile(s.mrz_lines, face_jpeg=s.portrait_jpeg)
    return s, profile


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    return settings_for(tmp_path / "data")


def ctx_for(profile: object) -> object:
    from proofing.nfc.trust import TrustStore
    from proofing.pipeline import PipelineContext

    trust = TrustStore()
    trust.add_certificate(profile.csca_der, "test CSCA")  # type: ignore[attr-defined]
    return PipelineContext(trust=trust)


def fill(store: ReviewStore, settings: Settings, samples: object, *, aa_over: bytes | None = None) -> str:
    s, profile = samples  # type: ignore[misc]
    info, token = create_session(store, settings=settings)
    add_frames(store, info.id, "document", [jpeg(s.page)], settings=settings)
    add_frames(store, info.id, "selfie", [jpeg(f) for f in s.selfie], settings=settings)
    challenge = aa_over if aa_over is not None else info.challenge
    set_chip(store, info.id, dict(profile.files), profile.sign_aa(challenge))
    submit(store, info.id)
    return info.id


def test_session_is_decided_once_with_a_signed_record(store: ReviewStore, settings: Settings, samples: object,
                                                      models_dir: Path) -> None:
    _, profile = samples  # type: ignore[misc]
    sid = fill(store, settings, samples)
    info = process_session(store, sid, ctx_for(profile), settings=settings)
    assert info.status == "decided"
    assert info.decision == "ACCEPT", info.reasons
    again = process_session(store, sid, ctx_for(profile), settings=settings)  # a redelivered task
    assert again.decided_at == info.decided_at
    with store.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Case).where(Case.session_id == sid)) == 1
        kinds = {e.kind for e in s.scalars(select(Evidence).where(Evidence.case_id == info.case_id))}
    assert {"document_image", "selfie", "chip_file", "chip_portrait", "session_record"} <= kinds
    # The uploads are gone once the case holds its own encrypted copy.
    assert not list((settings.data_dir / "evidence" / "intake" / sid).glob("*"))

    token = evidence_record(store, sid, settings)
    payload = verify_record(token, jwks(settings))
    assert payload["sub"] == sid and payload["decision"] == "ACCEPT"
    assert payload["challenge"] == info.challenge.hex()
    assert {e["kind"] for e in payload["evidence"]} == kinds
    text = json.dumps(payload)
    # The surname SPECIMEN also names the reason code SPECIMEN_ISSUER, so look for the
    # given name, the document number and the birth date instead.
    for personal in ("ASTRONAUT", "D23145890", "650919"):
        assert personal not in text, re.findall(".{60}" + personal + ".{20}", text)
    head, body, sig = token.split(".")
    forged = json.loads(__import__("base64").urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    forged["decision"] = "REJECT"
    from proofing.evidence.jws import b64u

    with pytest.raises(JwsError, match="does not verify"):
        verify_record(f"{head}.{b64u(json.dumps(forged).encode())}.{sig}", jwks(settings))
    with pytest.raises(JwsError, match="unknown key"):
        verify_record(token, jwks(settings_for(settings.data_dir.parent / "other")))


def test_replayed_chip_answer_is_rejected(store: ReviewStore, settings: Settings, samples: object,
                                          models_dir: Path) -> None:
    _, profile = samples  # type: ignore[misc]
    sid = fill(store, settings, samples, aa_over=b"\x01" * 8)  # signed over somebody else's challenge
    info = process_session(store, sid, ctx_for(profile), settings=settings)
    assert info.decision == "REJECT"
    assert any(r["code"].startswith("AA") or "ACTIVE" in r["code"] for r in info.reasons), info.reasons


def test_tokens_are_scoped_and_uploads_checked(store: ReviewStore, settings: Settings, samples: object) -> None:
    s, _ = samples  # type: ignore[misc]
    a, token_a = create_session(store, settings=settings)
    b, token_b = create_session(store, settings=settings)
    assert authenticate(store, a.id, token_a).id == a.id
    with pytest.raises(PermissionDenied):
        authenticate(store, a.id, token_b)
    with pytest.raises(NotFound):
        authenticate(store, "../../etc/passwd", token_a)
    small = Settings(data_dir=settings.data_dir, evidence_keys=settings.evidence_keys, max_upload_bytes=50_000,
                     max_frames=3, max_pixels=4_000_000)
    with pytest.raises(UploadRejected) as e:
        add_frames(store, a.id, "document", [jpeg(s.page)], settings=small)
    assert e.value.status == 413
    with pytest.raises(UploadRejected) as e:
        add_frames(store, a.id, "document", [b"%PDF-1.7 not an image"], settings=small)
    assert e.value.status == 415
    bomb = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(bomb, "PNG")  # ~50 kB file, 400 Mpx once decoded
    with pytest.raises(UploadRejected) as e:
        add_frames(store, a.id, "document", [bomb.getvalue()], settings=Settings(
            data_dir=settings.data_dir, evidence_keys=settings.evidence_keys, max_pixels=4_000_000))
    assert e.value.status == 422
    with pytest.raises(UploadRejected) as e:
        add_frames(store, a.id, "document", [b"\xff\xd8\xff\xe0 truncated jpeg"], settings=small)
    assert e.value.status == 422
    frame = jpeg(cv2.resize(s.selfie[0], (160, 120)))
    add_frames(store, a.id, "selfie", [frame] * 3, settings=small)
    with pytest.raises(UploadRejected) as e:
        add_frames(store, a.id, "selfie", [frame], settings=small)
    assert e.value.status == 413 and get_session(store, a.id).counts["selfie"] == 3
    with pytest.raises(UploadRejected, match="unknown chip file"):
        set_chip(store, a.id, {"EF.SOD": b"x", "DG1": b"y", "../x": b"z"})
    submit(store, a.id)
    with pytest.raises(InvalidState):
        add_frames(store, a.id, "selfie", [frame], settings=small)
    with pytest.raises(InvalidState):
        submit(store, b.id)  # nothing uploaded yet


def test_expired_session_refuses_uploads(store: ReviewStore, settings: Settings, clock: FakeClock,
                                         samples: object) -> None:
    s, _ = samples  # type: ignore[misc]
    info, _ = create_session(store, settings=settings, ttl=timedelta(minutes=10))
    clock.advance(timedelta(minutes=11))
    assert get_session(store, info.id).status == "expired"
    with pytest.raises(SessionExpired):
        add_frames(store, info.id, "selfie", [jpeg(s.selfie[0])], settings=settings)


def test_dead_worker_lease_expires_and_stale_result_is_dropped(store: ReviewStore, settings: Settings,
                                                               clock: FakeClock, samples: object,
                                                               models_dir: Path) -> None:
    _, profile = samples  # type: ignore[misc]
    ctx = ctx_for(profile)
    sid = fill(store, settings, samples)
    dead = _take_lease(store, sid, "worker-that-dies", timedelta(minutes=5))
    assert dead is not None
    with pytest.raises(SessionBusy):
        process_session(store, sid, ctx, settings=settings)
    stale = _run(store, sid, ctx)  # the dead worker got this far before it was killed
    clock.advance(timedelta(minutes=6))
    info = process_session(store, sid, ctx, settings=settings, worker="worker-2")
    assert info.status == "decided"
    late = _record(store, sid, dead, stale)  # the "dead" one comes back: its result is dropped
    assert late.decided_at == info.decided_at
    with store.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Case).where(Case.session_id == sid)) == 1


def test_concurrent_runs_decide_once(store: ReviewStore, settings: Settings, samples: object,
                                     models_dir: Path) -> None:
    _, profile = samples  # type: ignore[misc]
    sid = fill(store, settings, samples)
    outcomes: list[str] = []

    def run() -> None:
        try:
            outcomes.append(process_session(store, sid, ctx_for(profile), settings=settings).status)
        except SessionBusy:
            outcomes.append("busy")

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("decided") >= 1 and set(outcomes) <= {"decided", "busy"}
    with store.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Case).where(Case.session_id == sid)) == 1


def test_applicant_withdrawal_erases_evidence_keeps_decision(store: ReviewStore, settings: Settings,
                                                             samples: object, models_dir: Path) -> None:
    _, profile = samples  # type: ignore[misc]
    sid = fill(store, settings, samples)
    info = process_session(store, sid, ctx_for(profile), settings=settings)
    after = erase_applicant(store, sid)
    assert after.decision == info.decision and after.reasons == info.reasons
    with store.sessions() as s:
        evs = list(s.scalars(select(Evidence).where(Evidence.case_id == info.case_id)))
    assert evs and all(e.purged_at is not None for e in evs)
    assert not any((settings.data_dir / "evidence" / e.storage_key).exists() for e in evs)
    assert verify_record(evidence_record(store, sid, settings), jwks(settings))["decision"] == info.decision


def test_withdrawal_before_submit(store: ReviewStore, settings: Settings, samples: object) -> None:
    s, _ = samples  # type: ignore[misc]
    info, _ = create_session(store, settings=settings)
    add_frames(store, info.id, "selfie", [jpeg(s.selfie[0])], settings=settings)
    assert erase_applicant(store, info.id).status == "erased"
    assert not list((settings.data_dir / "evidence" / "intake" / info.id).glob("*"))


def test_rate_limit_is_shared_through_the_store(store: ReviewStore, clock: FakeClock) -> None:
    assert [hit(store, "ip:10.0.0.1", 3, 60) for _ in range(4)] == [True, True, True, False]
    assert hit(store, "ip:10.0.0.2", 3, 60)
    clock.advance(timedelta(seconds=61))
    assert hit(store, "ip:10.0.0.1", 3, 60)


def test_console_passwords(store: ReviewStore) -> None:
    add_user(store, "erin", "reviewer")
    with pytest.raises(PermissionDenied):
        verify_password(store, "erin", "no password set yet")
    with pytest.raises(ValueError):
        set_password(store, "erin", "short")
    set_password(store, "erin", "correct horse battery")
    assert verify_password(store, "erin", "correct horse battery") == "reviewer"
    with pytest.raises(PermissionDenied):
        verify_password(store, "erin", "correct horse battery!")
    with pytest.raises(PermissionDenied):
        verify_password(store, "nobody", "correct horse battery")


def test_live_capture_hints(samples: object, models_dir: Path) -> None:
    from proofing.intake import document_feedback, selfie_feedback

    s, _ = samples  # type: ignore[misc]
    doc = document_feedback(jpeg(s.page))
    assert doc.ready and doc.details["fields"]["document_number"] == "D23145890"
    assert doc.details["fields"]["birth_date"] == "650919"
    assert selfie_feedback(jpeg(s.selfie[0])).ready
    dark = np.full((480, 640, 3), 10, np.uint8)
    assert document_feedback(jpeg(dark)).codes == ["TOO_DARK"]
    grey = np.full((480, 640, 3), 128, np.uint8)
    assert selfie_feedback(jpeg(grey)).codes == ["FACE_NOT_FOUND"]
    assert "NO_MRZ" in document_feedback(jpeg(grey)).codes
    assert selfie_feedback(b"\xff\xd8\xff broken").codes == ["IMAGE_UNREADABLE"]
    assert selfie_feedback(b"\xff\xd8\xff broken").to_json()["messages"][0].startswith("The camera picture")
