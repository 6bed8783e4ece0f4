"""``run_session(evidence, ctx) -> SessionResult``: the whole session, stage by stage.

MRZ -> access key -> chip read + verification -> DG1 vs printed MRZ -> liveness on the
selfie burst -> face match against the chip portrait (primary) and the page portrait
(secondary) -> decision. A stage that does not apply is "not performed"; a stage that
raises becomes a stage error with a reason code, so one bad input never loses the rest
of the session and never escapes as a traceback. No HTTP, no SQL: filing a REVIEW case
is the caller's business.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import numpy as np

from proofing.pipeline import stages
from proofing.pipeline.evidence import ImageInput, PipelineContext, SessionEvidence
from proofing.pipeline.portrait import crop_page_portrait
from proofing.pipeline.result import SessionResult, StageResult


def error_code(exc: BaseException) -> str:
    """A stable reason code for an exception a stage raised."""
    from proofing.nfc.errors import ChipError
    from proofing.runtime.registry import ModelError

    code = getattr(exc, "code", None)
    if isinstance(code, str) and code:
        return code
    if isinstance(exc, ChipError):
        return f"CHIP_{type(exc).__name__.upper()}"
    if isinstance(exc, ModelError):
        return "MODEL_MISSING" if type(exc).__name__ == "ModelNotFound" else "MODEL_UNUSABLE"
    if isinstance(exc, MemoryError):
        return "OUT_OF_MEMORY"
    return f"INTERNAL:{type(exc).__name__}"


def guarded(name: str, fn: Callable[[], StageResult]) -> StageResult:
    """Run one stage; any exception becomes an error StageResult (with its timing)."""
    t0 = time.perf_counter()
    try:
        return fn()
    except Exception as exc:  # a stage must never take the session down
        result = StageResult.error(name, error_code(exc), f"{type(exc).__name__}: {exc}"[:500])
        result.timing_ms = (time.perf_counter() - t0) * 1000.0
        return result


def load_frames(sources: Sequence[ImageInput]) -> tuple[list[np.ndarray], list[str]]:
    """Decode every frame once (the stages share them); unusable frames give codes."""
    from proofing.imaging import ImageError, as_bgr, load_image

    frames: list[np.ndarray] = []
    codes: list[str] = []
    for src in sources:
        try:
            frames.append(as_bgr(src) if isinstance(src, np.ndarray) else load_image(src))
        except ImageError as exc:
            codes.append(exc.code)
    return frames, codes


def _images_unusable(name: str, codes: list[str]) -> StageResult:
    return StageResult.error(name, codes[0], f"none of the images could be used ({', '.join(codes)})")


def run_session(evidence: SessionEvidence, ctx: PipelineContext | None = None) -> SessionResult:
    """Run every stage on one session's evidence and decide with the context's policy."""
    from proofing.policy import decide, load_policy

    ctx = ctx or PipelineContext()
    t_start = time.perf_counter()
    result = SessionResult(
        session_id=evidence.session_id,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        evidence=evidence,
    )
    st = result.stages

    doc, doc_codes = load_frames(evidence.document_frames)
    selfie, selfie_codes = load_frames(evidence.selfie_frames)

    if doc_codes and not doc:
        st["mrz"] = _images_unusable("mrz", doc_codes)
    else:
        st["mrz"] = guarded("mrz", lambda: stages.mrz_stage(doc, ctx))
        st["mrz"].codes += [f"FRAME_{c}" for c in doc_codes]
    mrz = st["mrz"].value

    st["chip"] = guarded("chip", lambda: stages.chip_stage(evidence, mrz, ctx))
    chip = st["chip"].value[1] if st["chip"].value is not None else None

    st["mrz_chip"] = guarded("mrz_chip", lambda: stages.mrz_chip_stage(mrz, chip))

    if selfie_codes and not selfie:
        st["liveness"] = _images_unusable("liveness", selfie_codes)
        st["face_chip"] = _images_unusable("face_chip", selfie_codes)
        st["face_page"] = _images_unusable("face_page", selfie_codes)
    else:
        st["liveness"] = guarded("liveness", lambda: stages.liveness_stage(selfie, ctx))
        analysed: dict[int, object] = {}  # the selfie frames' faces, shared by both matches

        def primary() -> StageResult:
            missing = "no chip portrait: the chip was not read" if chip is None else "the chip has no DG2 portrait"
            return stages.face_stage("face_chip", selfie, stages.chip_portrait(chip), missing, ctx, analysed)

        def secondary() -> StageResult:
            page = crop_page_portrait(doc) if doc and selfie else None
            missing = "no portrait found on the document page" if doc else "no usable document image"
            return stages.face_stage("face_page", selfie, page, missing, ctx, analysed)

        st["face_chip"] = guarded("face_chip", primary)
        st["face_page"] = guarded("face_page", secondary)

    result.timings_ms = {name: s.timing_ms for name, s in st.items()}
    t_decide = time.perf_counter()
    try:
        policy = ctx.policy or load_policy()
        result.decision = decide(result, policy)
    finally:
        result.timings_ms["decide"] = (time.perf_counter() - t_decide) * 1000.0
        result.timings_ms["total"] = (time.perf_counter() - t_start) * 1000.0
    return result
