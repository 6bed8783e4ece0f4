"""The applicant side, without HTTP: sessions, uploads, processing, evidence records.

The service and the workers both call these functions; the database is the only shared
state. See docs/api.md for how the HTTP routes map onto them.
"""

from __future__ import annotations

from proofing.intake.errors import SessionBusy, SessionExpired, UploadRejected
from proofing.intake.executor import Executor, InProcessExecutor, get_executor
from proofing.intake.feedback import Feedback, document_feedback, selfie_feedback
from proofing.intake.process import default_context, process_session
from proofing.intake.ratelimit import hit
from proofing.intake.record import evidence_record, record_payload
from proofing.intake.sessions import (
    DECIDED,
    ERASED,
    EXPIRED,
    OPEN,
    PROCESSING,
    SUBMITTED,
    SessionInfo,
    add_frames,
    add_recapture,
    authenticate,
    create_session,
    erase_applicant,
    expire_sessions,
    get_session,
    set_chip,
    submit,
)

__all__ = [
    "DECIDED", "ERASED", "EXPIRED", "OPEN", "PROCESSING", "SUBMITTED",
    "Executor", "Feedback", "InProcessExecutor", "SessionBusy", "SessionExpired", "SessionInfo",
    "UploadRejected", "add_frames", "add_recapture", "authenticate", "create_session", "default_context",
    "document_feedback", "erase_applicant", "evidence_record", "expire_sessions", "get_executor",
    "get_session", "hit", "process_session", "record_payload", "selfie_feedback", "set_chip", "submit",
]
