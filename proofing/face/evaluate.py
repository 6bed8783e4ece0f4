"""Score a labelled pair list (``a,b,same``, paths relative to the CSV's folder).

Each image is analysed once and its embedding reused for every pair it appears in. A
pair where either side has no usable face scores ``MISSED_SCORE`` (below any cosine): a
missed face is a non-match, which is what the applicant would experience.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from proofing.face.compare import FaceAnalysis, FaceOptions, analyse_face, similarity
from proofing.face.policy import FacePolicy

#: Score given to a pair with a missed face: below every possible cosine.
MISSED_SCORE = -1.0


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    same: bool


@dataclass(frozen=True)
class PairScores:
    pairs: tuple[Pair, ...]
    scores: np.ndarray
    analyses: dict[str, FaceAnalysis]

    @property
    def labels(self) -> np.ndarray:
        return np.array([p.same for p in self.pairs], dtype=bool)

    @property
    def genuine(self) -> np.ndarray:
        return self.scores[self.labels]

    @property
    def impostor(self) -> np.ndarray:
        return self.scores[~self.labels]

    @property
    def missed(self) -> list[str]:
        return sorted(k for k, v in self.analyses.items() if not v.usable)


def read_pairs(csv_path: Path) -> list[Pair]:
    with open(csv_path, newline="") as f:
        reader = csv.DictReader(f)
        missing = {"a", "b", "same"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{csv_path}: missing column(s) {', '.join(sorted(missing))}")
        return [Pair(r["a"], r["b"], r["same"].strip() in ("1", "true", "True")) for r in reader]


def score_pairs(
    csv_path: Path,
    policy: FacePolicy,
    opts: FaceOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
    root: Path | None = None,
) -> PairScores:
    """``root``: the folder the CSV's paths are relative to (default: the CSV's own)."""
    pairs = read_pairs(csv_path)
    root = root or csv_path.parent
    images = sorted({p.a for p in pairs} | {p.b for p in pairs})
    analyses: dict[str, FaceAnalysis] = {}
    for n, name in enumerate(images):
        analyses[name] = analyse_face(root / name, policy, opts)
        if progress:
            progress(n + 1, len(images))
    scores = np.empty(len(pairs))
    for i, p in enumerate(pairs):
        score = similarity(analyses[p.a], analyses[p.b])
        scores[i] = MISSED_SCORE if score is None else score
    return PairScores(tuple(pairs), scores, analyses)
