"""Face stage: detect (YuNet, five landmarks) -> align (ArcFace 112x112) -> quality ->
embed (SFace; fused with dlib's ResNet when the dlib extra is installed) -> similarity ->
decision at a calibrated operating point.

Public API: :func:`compare_faces` -> :class:`MatchResult`; :func:`analyse_face` for one
image; :func:`score_pairs` + :func:`verification_report` for labelled pair lists;
thresholds and quality limits live in ``proofing/policy/face_thresholds.toml``.
OpenCV and ONNX Runtime load on first use, not on import of this package.
"""

from __future__ import annotations

from proofing.face.compare import (
    FaceAnalysis,
    FaceOptions,
    MatchResult,
    analyse_face,
    compare_faces,
)
from proofing.face.evaluate import score_pairs
from proofing.face.metrics import verification_report
from proofing.face.policy import FacePolicy, load_policy

__all__ = [
    "FaceAnalysis",
    "FaceOptions",
    "FacePolicy",
    "MatchResult",
    "analyse_face",
    "compare_faces",
    "load_policy",
    "score_pairs",
    "verification_report",
]
