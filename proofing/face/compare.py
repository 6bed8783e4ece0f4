"""``compare_faces(probe, reference) -> MatchResult``: the face-matching stage.

Each side goes load -> detect -> align -> quality -> embed; the similarity is the cosine
of the two embeddings and the decision applies the policy's threshold at its operating
point. Nothing here raises for bad input: an unreadable image, no face, or several faces
become reason codes on the result, so that the pipeline can decide (REVIEW, retry).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from proofing.face.align import align_face
from proofing.face.detect import DetectOptions, Face, detect_faces
from proofing.face.dlib_embed import available as dlib_available
from proofing.face.dlib_embed import dlib_similarity, embed_dlib
from proofing.face.embed import EmbedOptions, cosine, embed_faces
from proofing.face.fusion import manifest_params
from proofing.face.headpose import mesh_quality
from proofing.face.policy import FacePolicy, load_policy
from proofing.face.quality import FaceQuality, assess_quality
from proofing.imaging import ImageError, as_bgr, load_image
from proofing.runtime.onnx import (
    ModelSession,
    chosen_variant,
    get_session,
    inherited_version,
    variant_choice,
)
from proofing.settings import Settings, get_settings

ImageInput = np.ndarray | str | Path | bytes

MATCH, NO_MATCH, UNDETERMINED = "MATCH", "NO_MATCH", "UNDETERMINED"


#: The default detection of the face stage: a coarse pass at 320 px (a 640x480 frame's face
#: is large; 4x fewer pixels than 640), then 640 and 1280 px when it finds nothing (small
#: faces in large photos). Landmarks come from the refinement pass, not from this one.
STAGE_DETECT = DetectOptions(side=320, fallback_sides=(640, 1280))


@dataclass(frozen=True)
class FaceOptions:
    """What the face stage runs. The defaults are the measured choice (benchmarks/results/
    2026-11-28/face.md: CelebA all pairs, fusion fitted away from CelebA; AUC / EER / FNMR at
    FMR 1e-3; detect + align + embed p50 of a 640x480 frame, one thread):

    * coarse detection at 320 px, landmarks refined on a 160 px face crop, one SFace
      alignment from the refined landmarks, dlib's ResNet (ONNX) on its own chip and the
      chip's mirror, scores fused: 0.9943 / 3.26% / 7.9% (int8: 0.9945 / 3.20% / 7.9%),
      36 ms at int8, 44 ms at fp32;
    * the previous default (two YuNets at 640 px, refinement by both, four SFace
      alignments averaged, same fusion): 0.9946 / 3.32% / 6.8%, about four times the time
      (its SFace runs alone took ~90-100 ms). Its lower FNMR at FMR 1e-3 is the one thing
      it buys; it is ``PROOFING_FACE_MODE=accurate``, with its own thresholds file;
    * SFace alone, one alignment at 640 px (the OpenCV Zoo recipe at score 0.6): 0.9822 /
      5.11% / 10.3%; dlib's ResNet alone on our face: 0.9940 / 3.64% / 13.4% (its impostor
      tail is heavy, which the fusion with SFace corrects).
    """

    detect: DetectOptions = STAGE_DETECT
    embed: EmbedOptions = field(default_factory=EmbedOptions)
    #: A second YuNet whose landmarks give more alignments of the same face, all averaged
    #: (the previous default; see the class doc). None: one detector.
    ensemble_detector: str | None = None
    #: Precision variant of the ensemble detector.
    ensemble_variant: str = "fp32"
    #: Landmark refinement: the detector(s) run again on a crop centred on the chosen face,
    #: scaled so the face box fills about half of a ``side`` x ``side`` window. The first
    #: pass sees a small face at a few dozen pixels and a large one shrunk; a second look at
    #: a fixed face scale gives better landmarks (SFace alone, CelebA, EER: 5.17% from the
    #: 320 px pass's landmarks, 4.90% from the refined ones). Empty: no refinement.
    refine_sides: tuple[int, ...] = (160,)
    #: Also align and embed with the first pass's landmarks and average (one more SFace
    #: run; measured no better once dlib is fused: 3.21% vs 3.26%, within noise).
    keep_coarse_alignment: bool = False
    #: Head pose and eye closure from MediaPipe's FaceLandmarker in the quality report:
    #: None = whenever mediapipe and its model are available, False = never (the
    #: five-point pose). It never changes the similarity, only quality codes.
    landmarker: bool | None = None
    #: A second embedder fused with SFace at score level (:mod:`proofing.face.fusion`):
    #: "dlib" (dlib's ResNet as ONNX, extra ``dlib``) or None. When dlib is not installed
    #: SFace runs alone and the model string says so.
    second_embedder: str | None = "dlib"
    #: Precision variant of the second embedder's ONNX model.
    second_variant: str = "fp32"
    #: Average the second embedder's descriptors of the chip and its mirror (4.4 ms more).
    second_flip: bool = True

    @classmethod
    def from_choice(
        cls,
        choice: dict[str, str],
        threads: int = 1,
        flip: bool | None = None,
        fast: bool = False,
        second_embedder: str | None = "default",
        mode: str = "fast",
    ) -> FaceOptions:
        """Options with each model's precision from ``choice`` (see
        :func:`proofing.runtime.onnx.variant_choice`), fp32 where it names none.
        ``flip=None`` keeps SFace's default (no mirror); ``fast``: SFace alone on the 640 px
        pass's landmarks, no refinement, no fusion (the OpenCV Zoo recipe, for comparison);
        ``second_embedder`` "default" keeps the default fusion, None turns it off;
        ``mode`` "accurate": the stage with two YuNets at 640 px and every alignment averaged
        (see the class doc; its thresholds are in its own policy file)."""
        from proofing.face.dlib_embed import RESNET_ONNX
        from proofing.face.policy import check_mode

        accurate = check_mode(mode) == "accurate" and not fast
        default = cls()
        det, emb = default.detect, default.embed
        if fast or accurate:
            det = DetectOptions()
        ensemble = "yunet" if accurate else default.ensemble_detector
        return cls(
            detect=replace(det, variant=chosen_variant(choice, det.model), threads=threads),
            embed=replace(
                emb,
                variant=chosen_variant(choice, emb.model),
                threads=threads,
                flip=emb.flip if flip is None else flip,
            ),
            ensemble_detector=ensemble,
            ensemble_variant=chosen_variant(choice, ensemble) if ensemble else "fp32",
            refine_sides=() if fast else default.refine_sides,
            second_embedder=(None if fast else default.second_embedder)
            if second_embedder == "default"
            else second_embedder,
            second_variant=chosen_variant(choice, RESNET_ONNX),
            keep_coarse_alignment=accurate,
        )

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> FaceOptions:
        """Default options at the precision chosen by ``PROOFING_MODEL_VARIANTS`` (else each
        model's benchmarked default where it is built): what the pipeline's face stage runs."""
        settings = settings or get_settings()
        second = settings.face_second_embedder or "default"  # PROOFING_FACE_SECOND_EMBEDDER
        return cls.from_choice(
            variant_choice(settings),
            second_embedder=None if second == "none" else second,
            mode=settings.face_mode,  # PROOFING_FACE_MODE
        )


@dataclass(frozen=True)
class FaceAnalysis:
    """One image's face: the chosen detection (see :func:`_choose_face`), its quality, its embedding."""

    image_size: tuple[int, int] | None  # (width, height)
    face: Face | None
    faces_found: int
    quality: FaceQuality | None
    embedding: np.ndarray | None = field(repr=False, compare=False)
    codes: tuple[str, ...] = ()
    timings_ms: dict[str, float] = field(default_factory=dict)
    #: The second embedder's descriptor (dlib), when the options fuse one and it ran.
    second_embedding: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def usable(self) -> bool:
        return self.embedding is not None

    def to_dict(self) -> dict[str, object]:
        return {
            "image_size": list(self.image_size) if self.image_size else None,
            "faces_found": self.faces_found,
            "face": self.face.to_dict() if self.face else None,
            "quality": self.quality.to_dict() if self.quality else None,
            "codes": list(self.codes),
            "timings_ms": self.timings_ms,
        }


@dataclass(frozen=True)
class MatchResult:
    decision: str
    similarity: float | None
    threshold: float
    operating_point: str
    probe: FaceAnalysis
    reference: FaceAnalysis
    reason_codes: tuple[str, ...]
    timings_ms: dict[str, float]
    models: dict[str, str]
    #: Per role: model name, precision variant and the full sha256 of the file that ran.
    model_files: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def is_match(self) -> bool:
        return self.decision == MATCH

    def to_dict(self) -> dict[str, object]:
        return {
            "schema": "proofing.face.match/1",
            "decision": self.decision,
            "similarity": None if self.similarity is None else round(self.similarity, 5),
            "threshold": self.threshold,
            "operating_point": self.operating_point,
            "reason_codes": list(self.reason_codes),
            "probe": self.probe.to_dict(),
            "reference": self.reference.to_dict(),
            "timings_ms": self.timings_ms,
            "models": self.models,
            "model_files": self.model_files,
        }


def _ms(t0: float) -> float:
    return round((time.perf_counter() - t0) * 1000.0, 2)


def _to_image(source: ImageInput) -> np.ndarray:
    if isinstance(source, np.ndarray):
        return as_bgr(source)
    return load_image(source)


def analyse_face(source: ImageInput, policy: FacePolicy, opts: FaceOptions | None = None) -> FaceAnalysis:
    """Load, detect (largest face both detectors agree on), align, assess and embed one image."""
    opts = opts or FaceOptions.from_settings()
    timings: dict[str, float] = {}
    t = time.perf_counter()
    try:
        image = _to_image(source)
    except ImageError as e:
        return FaceAnalysis(None, None, 0, None, None, (e.code,), {"load": _ms(t)})
    timings["load"] = _ms(t)
    size = (int(image.shape[1]), int(image.shape[0]))
    if float(image.std()) < policy.quality.min_contrast:
        return FaceAnalysis(size, None, 0, None, None, ("IMAGE_BLANK", "FACE_NOT_FOUND"), timings)
    t = time.perf_counter()
    faces = detect_faces(image, opts.detect)
    timings["detect"] = _ms(t)
    others: list[Face] = []
    if opts.ensemble_detector:
        t = time.perf_counter()
        others = detect_faces(image, _ensemble_opts(opts))
        timings["detect_ensemble"] = _ms(t)
    face, partner = _choose_face(faces, others)
    if face is None:
        return FaceAnalysis(size, None, 0, None, None, ("FACE_NOT_FOUND",), timings)
    n_faces = len(faces) or len(others)
    coarse = [face.landmarks] + ([partner.landmarks] if partner is not None else [])
    refined: list[np.ndarray] = []
    if opts.refine_sides:
        t = time.perf_counter()
        for side in opts.refine_sides:
            refined += _refined_landmarks(image, face, opts, side)
        timings["detect_refine"] = _ms(t)
    # The refined landmarks when there are any; the first pass's when refinement lost the face.
    landmark_sets = (coarse + refined) if opts.keep_coarse_alignment or not refined else refined
    t = time.perf_counter()
    crops = [align_face(image, lm) for lm in landmark_sets]
    timings["align"] = _ms(t)
    mesh = None
    if opts.landmarker is not False:
        t = time.perf_counter()
        mesh = mesh_quality(image, face.box)
        timings["landmarks"] = _ms(t)
    t = time.perf_counter()
    quality = assess_quality(landmark_sets[0], crops[0], policy.quality, mesh)
    timings["quality"] = _ms(t)
    t = time.perf_counter()
    embedding = embed_faces(crops, opts.embed)
    timings["embed"] = _ms(t)
    second = None
    if _fusing(opts):
        t = time.perf_counter()
        second = embed_dlib(image, face, opts.second_variant, opts.detect.threads, opts.second_flip)
        timings["embed_dlib"] = _ms(t)
    codes = (("MULTIPLE_FACES",) if n_faces > 1 else ()) + quality.codes
    return FaceAnalysis(size, face, n_faces, quality, embedding, codes, timings, second)


def _fusing(opts: FaceOptions) -> bool:
    """Whether the options fuse dlib and dlib is here; a name it does not know is an error."""
    if opts.second_embedder is None:
        return False
    if opts.second_embedder != "dlib":
        raise ValueError(f"unknown second embedder {opts.second_embedder!r} (known: dlib)")
    return dlib_available()


def similarity(a: FaceAnalysis, b: FaceAnalysis) -> float | None:
    """SFace cosine, fused with the second embedder's score when both sides have one."""
    if a.embedding is None or b.embedding is None:
        return None
    s = cosine(a.embedding, b.embedding)
    if a.second_embedding is None or b.second_embedding is None:
        return s
    return manifest_params().fuse(s, dlib_similarity(a.second_embedding, b.second_embedding))


def _refined_landmarks(image: np.ndarray, face: Face, opts: FaceOptions, side: int) -> list[np.ndarray]:
    """Landmarks of ``face`` found again on a ``side`` x ``side`` crop centred on it (box
    doubled for context), by the main detector and the ensemble detector, in the image's
    coordinates; empty if neither finds the face there again."""
    import cv2

    x, y, w, h = face.box
    scale = side / (max(w, h) * 2.0)
    cx, cy = x + w / 2.0, y + h / 2.0
    m = np.array([[scale, 0.0, side / 2.0 - scale * cx], [0.0, scale, side / 2.0 - scale * cy]])
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    crop = cv2.warpAffine(image, m, (side, side), flags=interp, borderMode=cv2.BORDER_REPLICATE)
    d = opts.detect
    main = detect_faces(crop, replace(d, side=side, fallback_sides=()))
    second = detect_faces(crop, replace(_ensemble_opts(opts), fallback_sides=())) if opts.ensemble_detector else []
    found, partner = _choose_face(main, second)
    if found is None:
        return []
    back = [found.landmarks] + ([partner.landmarks] if partner is not None else [])
    return [((lm - m[:, 2]) / scale).astype(np.float32) for lm in back]


def _ensemble_opts(opts: FaceOptions) -> DetectOptions:
    d = opts.detect
    return DetectOptions(
        model=opts.ensemble_detector or d.model,
        variant=opts.ensemble_variant,
        threads=d.threads,
        side=d.side,
        fallback_sides=d.fallback_sides,
        score_threshold=d.score_threshold,
        nms_threshold=d.nms_threshold,
    )


def _landmark_gap(a: Face, b: Face) -> float:
    """Mean landmark distance in units of ``a``'s box width (the two YuNets' boxes differ
    in size, and on tiny or turned faces the eye distance is too small a unit)."""
    width = max(a.box[2], 1e-6)
    return float(np.linalg.norm(a.landmarks - b.landmarks, axis=1).mean()) / width


def _same_face(face: Face, candidates: list[Face], max_gap: float = 0.4) -> Face | None:
    """The candidate whose landmarks lie on ``face``'s, if any.

    0.4 box widths: on hard, turned faces the two YuNets disagree by up to ~0.3, while two
    different faces are at least a box width apart.
    """
    best = min(candidates, key=lambda c: _landmark_gap(face, c), default=None)
    return best if best is not None and _landmark_gap(face, best) <= max_gap else None


def _choose_face(faces: list[Face], others: list[Face]) -> tuple[Face | None, Face | None]:
    """The largest face both detectors agree on, and its partner from the second detector.

    A false detection by one detector (a patterned shirt, a hand) is rarely confirmed by
    the other, so a confirmed face beats a larger unconfirmed one. Without a confirmed face
    the largest face from either detector is used alone.
    """
    for face in faces:  # largest first
        partner = _same_face(face, others)
        if partner is not None:
            return face, partner
    if faces:
        return faces[0], None
    return (others[0], None) if others else (None, None)


def _sessions(opts: FaceOptions) -> dict[str, ModelSession]:
    d, e = opts.detect, opts.embed
    out = {
        "detector": get_session(d.model, d.variant, d.threads),
        "embedder": get_session(e.model, e.variant, e.threads),
    }
    if opts.ensemble_detector:
        out["ensemble_detector"] = get_session(opts.ensemble_detector, opts.ensemble_variant, d.threads)
    return out


def model_versions(opts: FaceOptions) -> dict[str, str]:
    """Model identifiers for results; also creates and warms every session the options use.

    The embedder's entry also names what changes its scores (flip, landmark ensemble),
    because the policy's thresholds are calibrated for exactly that string.
    """
    second = _second_session(opts)
    versions = {role: s.version for role, s in _sessions(opts).items()}
    return _model_strings(opts, versions, second.version if second else None)


def _second_session(opts: FaceOptions) -> ModelSession | None:
    from proofing.face.dlib_embed import RESNET_ONNX

    return get_session(RESNET_ONNX, opts.second_variant, 1) if _fusing(opts) else None


def _model_strings(opts: FaceOptions, versions: dict[str, str], second: str | None) -> dict[str, str]:
    out = dict(versions)
    out["embedder"] += f"+det{opts.detect.side}"
    if opts.embed.flip:
        out["embedder"] += "+flip"
    if opts.ensemble_detector:
        out["embedder"] += "+landmark-ensemble"
    for side in opts.refine_sides:
        out["embedder"] += f"+refine{side}"
    if opts.keep_coarse_alignment and opts.refine_sides:
        out["embedder"] += "+coarse"
    if second:
        out["embedder"] += f"+{second}{'+flip' if opts.second_flip else ''}:{manifest_params().tag()}"
    return out


def threshold_key(opts: FaceOptions) -> str:
    """The embedder string the policy's thresholds are compared with: like the model string,
    but a reduced-precision variant whose build met the agreement budget (cosine to fp32 >=
    0.99 on every held-out input) stands for its fp32 source, whose thresholds it inherits;
    benchmarks/face shows what that costs (AUC within 0.005)."""
    versions = {role: inherited_version(s) for role, s in _sessions(opts).items()}
    second = _second_session(opts)
    return _model_strings(opts, versions, inherited_version(second) if second else None)["embedder"]


def model_files(opts: FaceOptions) -> dict[str, dict[str, str]]:
    """Per role: model name, variant and full sha256 of the file each session runs; the
    FaceLandmarker too when it is used (it is created here, outside any timing)."""
    out = {role: s.describe() for role, s in _sessions(opts).items()}
    if opts.landmarker is not False:
        from proofing.liveness import landmarker
        from proofing.runtime.registry import default_registry

        if landmarker.available():
            out["landmarker"] = {
                "name": "face_landmarker",
                "variant": "float16",  # the only precision the .task bundle ships
                "sha256": default_registry().spec("face_landmarker").sha256,
            }
    return out


def compare_faces(
    probe: ImageInput,
    reference: ImageInput,
    policy: FacePolicy | None = None,
    opts: FaceOptions | None = None,
    *,
    probe_analysis: FaceAnalysis | None = None,
) -> MatchResult:
    """Compare the largest face of ``probe`` (selfie) with that of ``reference`` (DG2, page).

    ``probe_analysis``: the probe already analysed with the same policy and options (a
    session compares one selfie with two references; detecting and embedding it twice
    would double the cost)."""
    policy = policy or load_policy()
    opts = opts or FaceOptions.from_settings()
    models = model_versions(opts)  # creates and warms the sessions outside the timings
    files = model_files(opts)
    t0 = time.perf_counter()
    a = probe_analysis if probe_analysis is not None else analyse_face(probe, policy, opts)
    b = analyse_face(reference, policy, opts)
    codes = [f"PROBE_{c}" for c in a.codes] + [f"REFERENCE_{c}" for c in b.codes]
    if policy.calibrated_for and policy.calibrated_for != threshold_key(opts):
        codes.append("THRESHOLD_NOT_CALIBRATED_FOR_MODEL")
    score = similarity(a, b)
    if score is not None:
        decision = MATCH if score >= policy.threshold else NO_MATCH
        if decision == NO_MATCH:
            codes.append("SIMILARITY_BELOW_THRESHOLD")
    else:
        decision = UNDETERMINED
    return MatchResult(
        decision=decision,
        similarity=score,
        threshold=policy.threshold,
        operating_point=policy.operating_point,
        probe=a,
        reference=b,
        reason_codes=tuple(codes),
        timings_ms={"total": _ms(t0)},
        models=models,
        model_files=files,
    )
