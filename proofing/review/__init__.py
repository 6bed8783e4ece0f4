"""Assisted review: the case store, the reviewer queue, the audit log and retention.

The pipeline files a case (:func:`file_case`); reviewers claim (:func:`claim_next`),
decide (:func:`decide`), ask for a new capture or escalate; every action lands in a
hash-chained audit log (:func:`verify_audit`). Evidence is encrypted at rest and purged on
schedule (:func:`purge_retention`) or on request (:func:`erase_session`). No HTTP here.
"""

from __future__ import annotations

from proofing.review.audit import VerifyResult
from proofing.review.cases import (
    BIOMETRIC_KINDS,
    CaseView,
    EvidenceIn,
    EvidenceInfo,
    ReasonIn,
    add_capture,
    add_user,
    file_case,
    file_decision,
    get_case,
    list_cases,
    read_evidence,
)
from proofing.review.crypto import EvidenceKeyError, Keyring, new_key_spec
from proofing.review.errors import (
    FourEyesError,
    InvalidState,
    LeaseError,
    NotFound,
    PermissionDenied,
    ReviewError,
)
from proofing.review.queue import (
    DecisionResult,
    claim,
    claim_next,
    decide,
    escalate,
    expire_leases,
    release,
    request_capture,
)
from proofing.review.retention import PurgeReport, erase_session, purge_retention, rotate_keys
from proofing.review.store import ReviewStore, open_store


def verify_audit(store: ReviewStore) -> VerifyResult:
    """Check the whole audit chain; the result names the first entry that does not verify."""
    from proofing.review.audit import verify

    with store.sessions() as s:
        return verify(s)


__all__ = [
    "BIOMETRIC_KINDS",
    "CaseView",
    "DecisionResult",
    "EvidenceIn",
    "EvidenceInfo",
    "EvidenceKeyError",
    "FourEyesError",
    "InvalidState",
    "Keyring",
    "LeaseError",
    "NotFound",
    "PermissionDenied",
    "PurgeReport",
    "ReasonIn",
    "ReviewError",
    "ReviewStore",
    "VerifyResult",
    "add_capture",
    "add_user",
    "claim",
    "claim_next",
    "decide",
    "erase_session",
    "escalate",
    "expire_leases",
    "file_case",
    "file_decision",
    "get_case",
    "list_cases",
    "new_key_spec",
    "open_store",
    "purge_retention",
    "read_evidence",
    "release",
    "request_capture",
    "rotate_keys",
    "verify_audit",
]
