"""The session policy: each hard failure decides as the policy file says, borderline
scores go to REVIEW, and every decision records the policy file's sha256."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from proofing.policy import (
    ACCEPT,
    DEFAULT_POLICY_PATH,
    REJECT,
    REVIEW,
    Policy,
    PolicyError,
    decide,
    load_policy,
)


@dataclass
class Stage:
    status: str = "performed"
    codes: list[str] = field(default_factory=list)
    scores: dict[str, float] = field(default_factory=dict)


@dataclass
class Session:
    stages: dict[str, Stage]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def good(policy: Policy) -> Session:
    """Every stage performed and passing, scores well above the thresholds."""
    t = policy.thresholds
    return Session({
        "mrz": Stage(codes=["VALID"]),
        "chip": Stage(codes=["PA_VALID", "AA_VALID", "CA_VALID"]),
        "mrz_chip": Stage(codes=["MATCH"]),
        "liveness": Stage(scores={"live": 0.97, "threshold": 0.5}),
        "face_chip": Stage(scores={"similarity": t.face_accept + 0.3, "threshold": t.face_accept}),
        "face_page": Stage(scores={"similarity": t.face_accept + 0.2, "threshold": t.face_accept}),
    })


def test_all_checks_pass_accepts(policy: Policy) -> None:
    d = decide(good(policy), policy)
    assert d.decision == ACCEPT
    assert d.reasons == ()
    assert d.risk_score == 0.0


@pytest.mark.parametrize(
    ("stage", "code", "decision", "reason"),
    [
        ("chip", "SOD_SIGNATURE_INVALID", REJECT, "SOD_SIGNATURE_INVALID"),
        ("chip", "DS_CERT_SIGNATURE_INVALID", REJECT, "SOD_SIGNATURE_INVALID"),
        ("chip", "DG_HASH_MISMATCH:DG2", REJECT, "DG_HASH_MISMATCH"),
        ("chip", "AA_SIGNATURE_INVALID", REJECT, "AA_FAILED"),
        ("chip", "AA_CHALLENGE_MISMATCH", REJECT, "AA_FAILED"),
        ("chip", "CA_FAILED", REJECT, "CA_FAILED"),
        ("chip", "DS_CERT_REVOKED", REJECT, "CERTIFICATE_REVOKED"),
        ("mrz_chip", "MRZ_FIELD_MISMATCH:document_number", REJECT, "DG1_MRZ_MISMATCH"),
        ("mrz", "DOCUMENT_EXPIRED", REJECT, "DOCUMENT_EXPIRED"),
        ("chip", "CSCA_NOT_IN_TRUST_STORE", REVIEW, "CSCA_UNKNOWN"),
        ("chip", "AA_CHALLENGE_NOT_OURS", REVIEW, "AA_NOT_FRESH"),
        ("chip", "PARSE_ERROR:DG11", REVIEW, "CHIP_DATA_INCOMPLETE"),
        ("mrz", "CHECK_DIGIT_INVALID:composite", REVIEW, "MRZ_CHECK_DIGITS"),
        ("liveness", "UNDETERMINED", REVIEW, "LIVENESS_NOT_PERFORMED"),
    ],
)
def test_each_failure_decides_with_its_code(
    policy: Policy, stage: str, code: str, decision: str, reason: str
) -> None:
    s = good(policy)
    s.stages[stage].codes.append(code)
    d = decide(s, policy)
    assert d.decision == decision
    assert d.reasons[0].code == reason
    assert f"{stage}:{code}" in d.reasons[0].facts
    assert d.reasons[0].reviewer and d.reasons[0].applicant
    assert d.risk_score > 0.0


def test_no_chip_goes_to_review(policy: Policy) -> None:
    s = good(policy)
    s.stages["chip"] = Stage(status="not_performed")
    s.stages["mrz_chip"] = Stage(status="not_performed")
    s.stages["face_chip"] = Stage(status="not_performed")
    d = decide(s, policy)
    assert d.decision == REVIEW
    # The stages that need the chip are consequences, not reasons of their own (`unless`).
    assert d.codes == ["CHIP_NOT_READ"]


def test_missing_selfie_comparison_is_its_own_reason(policy: Policy) -> None:
    s = good(policy)
    s.stages["face_chip"] = Stage(status="not_performed")
    assert decide(s, policy).codes == ["FACE_NOT_COMPARED"]


def test_stage_error_goes_to_review(policy: Policy) -> None:
    s = good(policy)
    s.stages["mrz"] = Stage(status="error", codes=["ERROR:IMAGE_UNREADABLE"])
    d = decide(s, policy)
    assert d.decision == REVIEW
    assert "MRZ_UNREADABLE" in d.codes


def test_borderline_face_goes_to_review(policy: Policy) -> None:
    t = policy.thresholds
    s = good(policy)
    s.stages["face_chip"].scores["similarity"] = (t.face_accept + t.face_review) / 2
    d = decide(s, policy)
    assert d.decision == REVIEW
    assert d.codes == ["FACE_BORDERLINE"]


def test_clear_face_mismatch_rejects(policy: Policy) -> None:
    s = good(policy)
    s.stages["face_chip"].scores["similarity"] = policy.thresholds.face_review - 0.1
    d = decide(s, policy)
    assert d.decision == REJECT
    assert "FACE_MISMATCH" in d.codes


def test_page_portrait_mismatch_goes_to_review(policy: Policy) -> None:
    s = good(policy)
    s.stages["face_page"].scores["similarity"] = 0.0
    assert decide(s, policy).codes == ["PAGE_PORTRAIT_MISMATCH"]


@pytest.mark.parametrize(
    ("live", "decision", "code"),
    [(0.52, REVIEW, "LIVENESS_BORDERLINE"), (0.45, REVIEW, "LIVENESS_BORDERLINE"),
     (0.05, REJECT, "PRESENTATION_ATTACK")],
)
def test_liveness_score_bands(policy: Policy, live: float, decision: str, code: str) -> None:
    s = good(policy)
    s.stages["liveness"].scores["live"] = live
    d = decide(s, policy)
    assert (d.decision, d.codes) == (decision, [code])


def test_reject_outranks_review(policy: Policy) -> None:
    s = good(policy)
    s.stages["chip"].codes += ["CSCA_NOT_IN_TRUST_STORE", "DG_HASH_MISMATCH:DG1"]
    d = decide(s, policy)
    assert d.decision == REJECT
    assert d.codes[0] == "DG_HASH_MISMATCH"
    assert "CSCA_UNKNOWN" in d.codes
    assert d.risk_score == pytest.approx(1.0)


def test_silent_stage_never_accepts(policy: Policy) -> None:
    s = good(policy)
    s.stages["chip"].codes.remove("PA_VALID")  # no failure code, but no success either
    d = decide(s, policy)
    assert d.decision == REVIEW
    assert d.codes == ["ACCEPT_EVIDENCE_MISSING"]
    assert d.reasons[0].facts == ("missing chip:PA_VALID",)


def test_recorded_policy_hash_is_the_files_sha256(policy: Policy) -> None:
    digest = hashlib.sha256(DEFAULT_POLICY_PATH.read_bytes()).hexdigest()
    d = decide(good(policy), policy)
    assert d.policy_hash == digest == policy.sha256
    face_file = DEFAULT_POLICY_PATH.parent / "face_thresholds.toml"
    assert d.policy["components"]["face_thresholds.toml"] == hashlib.sha256(face_file.read_bytes()).hexdigest()  # type: ignore[index]
    assert d.to_dict()["policy"]["version"] == policy.version  # type: ignore[index]
    liveness_file = DEFAULT_POLICY_PATH.parent / "liveness.toml"
    if liveness_file.is_file():  # the liveness stage's calibration, when it ships
        assert d.policy["components"]["liveness.toml"] == hashlib.sha256(liveness_file.read_bytes()).hexdigest()  # type: ignore[index]


def test_thresholds_come_from_the_face_calibration(policy: Policy) -> None:
    import tomllib

    face = tomllib.loads((DEFAULT_POLICY_PATH.parent / "face_thresholds.toml").read_text())["match"]
    assert policy.thresholds.face_accept == face["thresholds"][face["operating_point"]]
    assert policy.thresholds.face_review == face["thresholds"]["fmr_1e-2"]


def test_every_reason_explains_itself_twice(policy: Policy) -> None:
    for rule in policy.rules:
        assert rule.reviewer and rule.applicant and rule.reviewer != rule.applicant, rule.code


def test_bad_policy_files_are_refused(tmp_path: Path) -> None:
    text = DEFAULT_POLICY_PATH.read_text()
    (tmp_path / "face_thresholds.toml").write_text((DEFAULT_POLICY_PATH.parent / "face_thresholds.toml").read_text())
    no_version = tmp_path / "a.toml"
    no_version.write_text(text.replace('version = "', 'old_version = "', 1))
    with pytest.raises(PolicyError, match="version"):
        load_policy(no_version)
    bad_decision = tmp_path / "b.toml"
    bad_decision.write_text(text.replace('decision = "REJECT"', 'decision = "MAYBE"', 1))
    with pytest.raises(PolicyError, match="decision"):
        load_policy(bad_decision)
    changed = tmp_path / "c.toml"
    changed.write_text(text.replace('decision = "REJECT"', 'decision = "REVIEW"', 1))
    assert load_policy(changed).sha256 != load_policy().sha256
