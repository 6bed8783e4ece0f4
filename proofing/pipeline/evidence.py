"""What a session runs on (:class:`SessionEvidence`) and with what (:class:`PipelineContext`).

Evidence is what the applicant supplied in one session: document frames, the chip (raw
files already read, or a live transport plus an access key), selfie frames, and the
server's challenge. The context is the verifier's side: trust store, policy, options.
Keeping them apart lets one context serve many sessions (a worker, a service).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from proofing.face.compare import FaceOptions
    from proofing.face.policy import FacePolicy
    from proofing.nfc.bac import AccessKey
    from proofing.nfc.dump import ChipDump
    from proofing.nfc.transport import Transport
    from proofing.nfc.trust import TrustStore
    from proofing.policy import Policy

#: An image as a BGR array, a file path, or encoded bytes.
ImageInput = np.ndarray | str | Path | bytes


@dataclass
class SessionEvidence:
    document_frames: Sequence[ImageInput] = ()
    selfie_frames: Sequence[ImageInput] = ()
    #: The chip's raw files as uploaded (server side) or read earlier.
    chip_dump: ChipDump | None = None
    #: A live reader to read the chip from (used only when ``chip_dump`` is None).
    chip_transport: Transport | None = None
    #: CAN or MRZ key for the live read; None: derived from the MRZ read off the page.
    access_key: AccessKey | None = None
    #: The server's nonce: the Active Authentication challenge the chip must sign (8 bytes).
    challenge: bytes | None = None
    session_id: str = field(default_factory=lambda: uuid.uuid4().hex)


@dataclass
class PipelineContext:
    #: CSCA trust store; None: passive authentication cannot anchor the chain (REVIEW).
    trust: TrustStore | None = None
    #: Session policy; None: the packaged ``session.toml``.
    policy: Policy | None = None
    #: Tesseract language for the MRZ (None: the settings' choice).
    mrz_lang: str | None = None
    face_policy: FacePolicy | None = None
    face_options: FaceOptions | None = None
    #: The time certificates must be valid at (None: now).
    at: datetime | None = None
    #: The liveness check ``frames -> LivenessResult``; None: ``proofing.liveness.check_liveness``.
    liveness: Callable[[list[np.ndarray]], Any] | None = None
    #: Selfie frames tried as the face-match probe when the first shows no usable face.
    max_probe_frames: int = 3
