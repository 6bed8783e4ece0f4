"""The session pipeline: evidence in, every stage's typed result and the decision out.

Public API: :func:`run_session` (:class:`SessionEvidence`, :class:`PipelineContext`) ->
:class:`SessionResult` (``to_dict``: schema ``proofing.session/1``). Pure orchestration:
no HTTP, no SQL; the caller files REVIEW cases.
"""

from __future__ import annotations

from proofing.pipeline.evidence import ImageInput, PipelineContext, SessionEvidence
from proofing.pipeline.result import (
    ERROR,
    NOT_PERFORMED,
    PERFORMED,
    SCHEMA,
    STAGES,
    SessionResult,
    StageResult,
)
from proofing.pipeline.run import run_session

__all__ = [
    "ERROR",
    "NOT_PERFORMED",
    "PERFORMED",
    "SCHEMA",
    "STAGES",
    "ImageInput",
    "PipelineContext",
    "SessionEvidence",
    "SessionResult",
    "StageResult",
    "run_session",
]
