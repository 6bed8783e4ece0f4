"""Session policy: declarative rules (``session.toml``) that turn stage facts into a
decision, with reason codes explained for the reviewer and for the applicant.

Public API: :func:`load_policy` -> :class:`Policy`; :func:`decide` -> :class:`Decision`.
Face thresholds come from ``face_thresholds.toml`` (``proofing face calibrate``) and the
liveness threshold from the liveness stage (``liveness.toml``); both are hashed into the
decision alongside the policy file itself.
"""

from __future__ import annotations

from proofing.policy.decide import Decision, DecisionReason, decide, session_facts
from proofing.policy.model import (
    ACCEPT,
    DEFAULT_POLICY_PATH,
    REJECT,
    REVIEW,
    Policy,
    PolicyError,
    ReasonRule,
    load_policy,
)

__all__ = [
    "ACCEPT",
    "DEFAULT_POLICY_PATH",
    "REJECT",
    "REVIEW",
    "Decision",
    "DecisionReason",
    "Policy",
    "PolicyError",
    "ReasonRule",
    "decide",
    "load_policy",
    "session_facts",
]
