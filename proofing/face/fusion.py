"""Score fusion of SFace with a second embedder (dlib's ResNet), fitted away from the test set.

Each system's score is z-normalised by its impostor mean and spread on a cohort of pairs
(impostor normalisation puts both on a "how unlike a stranger" scale, whatever their
native ranges), and the two z-scores are summed with Fisher's linear-discriminant weight
from the same pairs: the direction that best separates genuine from impostor pairs given
both systems' spreads and their correlation. The fused value is mapped back onto SFace's
cosine scale (``mean + std * z``) so that thresholds, reports and the session policy read
it like a similarity. The parameters live in the manifest's ``[models.dlib_resnet]`` entry,
with the pairs they were fitted on; the benchmark refits them on the same pairs and reports
CelebA with them, never fitting on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class FusionParams:
    weight: float  # the second embedder's share of the z-score sum
    sface_mean: float
    sface_std: float
    second_mean: float
    second_std: float

    def fuse(self, sface: float, second: float) -> float:
        zs = (sface - self.sface_mean) / self.sface_std
        zd = (second - self.second_mean) / self.second_std
        return self.sface_mean + self.sface_std * ((1.0 - self.weight) * zs + self.weight * zd)

    def tag(self) -> str:
        """What the model-version string carries, so thresholds follow a change of weight."""
        return f"w{self.weight:.3f}"


def fit_fusion(sface: np.ndarray, second: np.ndarray, same: np.ndarray) -> FusionParams:
    """Impostor z-normalisation + Fisher weight (normalised to sum 1) on labelled pairs."""
    same = np.asarray(same, dtype=bool)
    ms, ss = float(sface[~same].mean()), float(sface[~same].std())
    md, sd = float(second[~same].mean()), float(second[~same].std())
    x = np.stack([(sface - ms) / ss, (second - md) / sd], axis=1)
    within = 0.5 * (np.cov(x[same].T) + np.cov(x[~same].T))
    w = np.linalg.solve(within, x[same].mean(0) - x[~same].mean(0))
    w = np.clip(w, 0.0, None)
    return FusionParams(float(w[1] / w.sum()), ms, ss, md, sd)


@lru_cache(maxsize=1)
def manifest_params() -> FusionParams:
    """The fitted parameters recorded in the manifest's ``dlib_resnet`` entry."""
    from proofing.face.dlib_embed import RESNET
    from proofing.runtime.registry import default_registry

    e = default_registry().spec(RESNET).extra

    def num(key: str) -> float:
        v = e[key]
        if not isinstance(v, int | float):
            raise ValueError(f"manifest [models.{RESNET}] {key} = {v!r} is not a number")
        return float(v)

    return FusionParams(
        weight=num("fusion_weight"),
        sface_mean=num("sface_impostor_mean"),
        sface_std=num("sface_impostor_std"),
        second_mean=num("dlib_impostor_mean"),
        second_std=num("dlib_impostor_std"),
    )
