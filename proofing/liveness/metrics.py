"""ISO/IEC 30107-3 PAD metrics over bona fide and attack scores (numpy only).

Conventions: a score is the probability of a bona fide presentation; a presentation is
classified bona fide when ``score >= threshold``. APCER is computed per PAI species
(attack type) and the reported APCER is the worst species (ISO/IEC 30107-3:2023);
BPCER is the fraction of bona fide presentations rejected; ACER = (APCER + BPCER) / 2
(deprecated by the 2023 edition, still reported for comparison). A presentation that was
not judged (no usable frame) is counted as rejected: an error for a bona fide
presentation, not an acceptance for an attack; the counts are reported alongside.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

BONA_FIDE_LABEL = "bona_fide"


@dataclass(frozen=True)
class PadReport:
    threshold: float
    bona_fide: int
    attacks: dict[str, int]
    unjudged: dict[str, int]
    apcer: float
    apcer_per_species: dict[str, float]
    bpcer: float
    acer: float
    bpcer_at_apcer_5: float | None
    apcer_at_bpcer_5: float | None
    threshold_at_apcer_5: float | None
    threshold_at_bpcer_5: float | None

    def to_dict(self) -> dict[str, object]:
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def _scores(values: Sequence[float | None]) -> np.ndarray:
    return np.array([-np.inf if v is None else float(v) for v in values], dtype=np.float64)


def apcer_species(attack: np.ndarray, threshold: float) -> float:
    return float((attack >= threshold).mean()) if attack.size else 0.0


def bpcer(bona: np.ndarray, threshold: float) -> float:
    return float((bona < threshold).mean()) if bona.size else 0.0


def _candidates(values: np.ndarray) -> np.ndarray:
    finite = np.unique(values[np.isfinite(values)])
    return np.concatenate([finite, [np.nextafter(finite[-1], np.inf)]]) if finite.size else np.array([0.5])


def pad_report(labels: Sequence[str], scores: Sequence[float | None], threshold: float) -> PadReport:
    """The metrics at ``threshold`` and at the two 5% operating points."""
    lab = np.asarray(labels)
    s = _scores(scores)
    bona = s[lab == BONA_FIDE_LABEL]
    species = sorted({str(x) for x in lab if x != BONA_FIDE_LABEL})
    per = {sp: s[lab == sp] for sp in species}
    unjudged = {str(k): int(np.sum((lab == k) & ~np.isfinite(s))) for k in [BONA_FIDE_LABEL, *species]}

    def worst(t: float) -> float:
        return max((apcer_species(v, t) for v in per.values()), default=0.0)

    ap = {sp: apcer_species(v, threshold) for sp, v in per.items()}
    a, b = worst(threshold), bpcer(bona, threshold)
    t_all = _candidates(s)
    b_at = a_at = t_a = t_b = None
    if per and bona.size:
        ok = [t for t in t_all if worst(t) <= 0.05]
        if ok:
            t_a = float(min(ok))
            b_at = bpcer(bona, t_a)
        ok = [t for t in t_all if bpcer(bona, t) <= 0.05]
        if ok:
            t_b = float(max(ok))
            a_at = worst(t_b)
    return PadReport(
        threshold=threshold, bona_fide=int(bona.size), attacks={k: int(v.size) for k, v in per.items()},
        unjudged=unjudged, apcer=a, apcer_per_species=ap, bpcer=b, acer=(a + b) / 2.0,
        bpcer_at_apcer_5=b_at, apcer_at_bpcer_5=a_at, threshold_at_apcer_5=t_a, threshold_at_bpcer_5=t_b,
    )


def threshold_at_bpcer(bona_scores: Sequence[float], target: float) -> float:
    """The highest threshold whose BPCER on these bona fide scores is <= ``target``."""
    s = np.sort(np.asarray(bona_scores, dtype=np.float64))
    k = int(np.floor(target * len(s)))  # this many may fall below
    return float(s[min(k, len(s) - 1)])


def auc(bona: Sequence[float], attack: Sequence[float]) -> float:
    """P(bona fide value > attack value) + 0.5 P(tie): how well one measure separates the classes."""
    b, a = np.asarray(bona, float), np.asarray(attack, float)
    if not b.size or not a.size:
        return float("nan")
    gt = (b[:, None] > a[None, :]).mean()
    eq = (b[:, None] == a[None, :]).mean()
    return float(gt + 0.5 * eq)
