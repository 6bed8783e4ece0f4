"""Each stage as a plain function from typed inputs to a :class:`StageResult`.

These adapters call the stage modules (mrz, nfc, liveness, face) and translate their
results into codes and scores the policy understands; they add no checks of their own.
Exceptions are left to :func:`proofing.pipeline.run.run_session`, which turns them into
stage errors, so each adapter stays a straight line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from proofing.mrz.result import MrzResult
from proofing.nfc.verify import ChipResult
from proofing.pipeline.evidence import PipelineContext, SessionEvidence
from proofing.pipeline.result import PERFORMED, StageResult


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


# -- MRZ ----------------------------------------------------------------------------------


def mrz_stage(frames: Sequence[np.ndarray], ctx: PipelineContext) -> StageResult:
    """Read the MRZ from the document frames (a burst is voted); OCR-B model, else ``eng``."""
    from proofing.mrz.reader import read_mrz, read_mrz_frames
    from proofing.runtime.registry import ModelNotFound

    if not frames:
        return StageResult.not_performed("mrz", "no document images were supplied")
    t0 = time.perf_counter()
    codes: list[str] = []
    lang = ctx.mrz_lang

    def read(lang: str | None) -> MrzResult:
        return read_mrz(frames[0], lang=lang) if len(frames) == 1 else read_mrz_frames(frames, lang=lang)

    try:
        r = read(lang)
    except ModelNotFound:
        # The OCR-B model is not on this machine: stock eng reads clean pages well enough.
        lang = "eng"
        codes.append("OCR_FALLBACK_ENG")
        r = read(lang)
    codes += r.reasons + (["VALID"] if r.valid else [])
    return StageResult(
        "mrz", PERFORMED, codes, {"confidence": r.confidence}, timing_ms=_ms(t0),
        models={"ocr": _ocr_model(lang)}, details=r.to_dict(), value=r,
    )


def _ocr_model(lang: str | None) -> str:
    """The tesseract model that read the MRZ, as the runtime registry names it."""
    from proofing.mrz.ocr import OCRB_LANG, resolve_engine

    try:
        engine = resolve_engine(lang)
        if engine.lang == OCRB_LANG:
            from proofing.runtime import default_registry
            from proofing.runtime.registry import sha256_of

            return f"tesseract:ocrb:{sha256_of(default_registry().resolve('ocrb'))[:12]}"
        return f"tesseract:{engine.lang}"
    except Exception:  # naming the model must never fail a reading that succeeded
        return f"tesseract:{lang or 'unknown'}"


# -- chip ---------------------------------------------------------------------------------


def chip_stage(evidence: SessionEvidence, mrz: MrzResult | None, ctx: PipelineContext) -> StageResult:
    """Read the chip (live transport) or take the uploaded dump, then verify it."""
    from proofing.nfc.verify import verify_chip

    t0 = time.perf_counter()
    dump = evidence.chip_dump
    read_ms: dict[str, float] = {}
    if dump is None:
        if evidence.chip_transport is None:
            return StageResult.not_performed("chip", "no chip data: neither chip files nor a reader were supplied")
        key = evidence.access_key or _mrz_access_key(mrz)
        if key is None:
            return StageResult.not_performed(
                "chip", "no access key: the MRZ was not read validly and no CAN was given", "NO_ACCESS_KEY"
            )
        from proofing.nfc.reader import read_chip

        dump = read_chip(evidence.chip_transport, key, challenge=evidence.challenge, timings=read_ms)
    result = verify_chip(dump, ctx.trust, evidence.challenge, at=ctx.at)
    details = result.to_dict()
    details["access_control"] = dump.access_control
    if read_ms:
        details["read_s"] = {k: round(v, 4) for k, v in read_ms.items()}
    return StageResult(
        "chip", PERFORMED, chip_codes(result), timing_ms=_ms(t0), details=details,
        value=(dump, result),
    )


def _mrz_access_key(mrz: MrzResult | None) -> Any:
    from proofing.nfc.bac import MrzKey

    # The key needs only these three fields: a misread elsewhere (name, composite) must
    # not stop the chip read, whose DG1 then shows the true MRZ.
    needed = ("document_number", "birth_date", "expiry_date")
    if mrz is None or not mrz.found or not all(k in mrz.checks and mrz.checks[k].valid for k in needed):
        return None
    try:
        return MrzKey.from_mrz_lines(mrz.lines)
    except ValueError:
        return None


def chip_codes(result: ChipResult) -> list[str]:
    """The chip's own reason codes plus the positive facts the policy needs to accept."""
    codes = list(result.reasons)
    if result.passive_authentication.valid:
        codes.append("PA_VALID")
    aa = result.active_authentication
    # An answer over a challenge that is not this session's proves no freshness.
    aa_ok = aa is not None and aa.valid and "AA_CHALLENGE_NOT_OURS" not in aa.reasons
    if aa_ok:
        codes.append("AA_VALID")
    ca = result.chip_authentication
    ca_ok = False
    if ca is not None and ca.get("performed") is not False:
        ca_ok = bool(ca.get("valid"))
        codes.append("CA_VALID" if ca_ok else "CA_FAILED")
        extra = ca.get("reasons")
        codes += [str(c) for c in extra] if isinstance(extra, list) else []
    if not (aa_ok or ca_ok):
        codes.append("NO_CHIP_AUTHENTICATION")
    if result.dg2 is None or not result.dg2.faces:
        codes.append("DG2_MISSING")
    return list(dict.fromkeys(codes))


def mrz_chip_stage(mrz: MrzResult | None, chip: ChipResult | None) -> StageResult:
    """DG1 (chip) against the MRZ printed on the page, field by field."""
    from proofing.nfc.compare import compare_mrz

    if chip is None or chip.dg1 is None:
        return StageResult.not_performed("mrz_chip", "the chip's DG1 is not available")
    if mrz is None or not mrz.found:
        return StageResult.not_performed("mrz_chip", "no MRZ was read from the page")
    t0 = time.perf_counter()
    cmp = compare_mrz(chip.dg1.mrz, mrz)
    codes = list(cmp.reasons) + (["MATCH"] if cmp.match else [])
    return StageResult("mrz_chip", PERFORMED, codes, timing_ms=_ms(t0), details=cmp.to_dict(), value=cmp)


# -- liveness -----------------------------------------------------------------------------


def _default_liveness() -> Callable[[list[np.ndarray]], Any] | None:
    """``check_liveness`` from the liveness package (its ``__init__`` or ``burst``), if built."""
    import importlib

    for module in ("proofing.liveness", "proofing.liveness.burst"):
        try:
            fn = getattr(importlib.import_module(module), "check_liveness", None)
        except Exception:  # a missing or half-installed stage is "not performed", not a crash
            continue
        if callable(fn):
            return fn
    return None


def liveness_stage(frames: list[np.ndarray], ctx: PipelineContext) -> StageResult:
    """Passive liveness over the selfie burst; its result is read by duck typing (see below)."""
    if not frames:
        return StageResult.not_performed("liveness", "no selfie frames were supplied")
    check = ctx.liveness or _default_liveness()
    if check is None:
        return StageResult.not_performed(
            "liveness", "the liveness stage (proofing.liveness.check_liveness) is not available in this build"
        )
    t0 = time.perf_counter()
    r = check(frames)
    codes, scores = liveness_outcome(r)
    details = r.to_dict() if hasattr(r, "to_dict") else None
    models = getattr(r, "models", None)
    return StageResult(
        "liveness", PERFORMED, codes, scores, timing_ms=_ms(t0),
        models=dict(models) if isinstance(models, dict) else {}, details=details, value=r,
    )


def liveness_outcome(r: Any) -> tuple[list[str], dict[str, float]]:
    """Codes and scores of a LivenessResult: ``score`` (bona fide probability, higher =
    live) and ``threshold`` become scores the policy bands; a verdict without a score
    (RETAKE: no usable frame) becomes a code."""
    raw_codes = getattr(r, "reason_codes", None) or getattr(r, "reasons", None) or ()
    codes = [str(c) for c in raw_codes]
    scores: dict[str, float] = {}
    verdict = str(getattr(r, "verdict", getattr(r, "decision", "")) or "").upper()
    score = getattr(r, "score", None)
    if verdict == "RETAKE":
        codes.append("RETAKE")
    elif isinstance(score, int | float):
        scores["live"] = float(score)
        threshold = getattr(r, "threshold", None)
        if isinstance(threshold, int | float):
            scores["threshold"] = float(threshold)
    else:
        codes.append({"BONA_FIDE": "LIVE", "LIVE": "LIVE", "ATTACK": "ATTACK"}.get(verdict, "UNDETERMINED"))
    return codes, scores


# -- faces --------------------------------------------------------------------------------


def face_stage(
    name: str, probes: list[np.ndarray], reference: np.ndarray | None, missing: str, ctx: PipelineContext,
    analysed: dict[int, Any] | None = None,
) -> StageResult:
    """Compare the selfie with a reference portrait; tries up to ``max_probe_frames`` frames
    (middle of the burst first) until one shows a usable face. ``analysed`` carries each
    probe frame's face analysis from one face stage to the next."""
    from proofing.face.compare import UNDETERMINED, analyse_face, compare_faces
    from proofing.face.policy import load_policy

    if not probes:
        return StageResult.not_performed(name, "no selfie frames were supplied")
    if reference is None:
        return StageResult.not_performed(name, missing)
    t0 = time.perf_counter()
    order = _probe_order(len(probes))[: max(1, ctx.max_probe_frames)]
    r = None
    policy = ctx.face_policy or load_policy()
    for i in order:
        if analysed is not None and i not in analysed:
            analysed[i] = analyse_face(probes[i], policy, ctx.face_options)
        r = compare_faces(probes[i], reference, policy, ctx.face_options,
                          probe_analysis=analysed.get(i) if analysed is not None else None)
        if r.decision != UNDETERMINED:
            break
    assert r is not None
    codes = list(r.reason_codes) + (["UNDETERMINED"] if r.decision == UNDETERMINED else [])
    scores = {"threshold": r.threshold}
    if r.similarity is not None:
        scores["similarity"] = r.similarity
    details = r.to_dict()
    details["probe_frame"] = i
    return StageResult(name, PERFORMED, codes, scores, timing_ms=_ms(t0), models=dict(r.models),
                       details=details, value=r)


def _probe_order(n: int) -> list[int]:
    mid = n // 2
    return sorted(range(n), key=lambda i: (abs(i - mid), i))


def chip_portrait(chip: ChipResult | None) -> np.ndarray | None:
    """The first DG2 face image, decoded (BGR)."""
    if chip is None or chip.dg2 is None or not chip.dg2.faces:
        return None
    return chip.dg2.faces[0].decode()
