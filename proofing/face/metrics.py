"""Verification metrics over genuine and impostor scores (numpy only).

Conventions (ISO/IEC 19795-1): a comparison is a match when ``score >= threshold``.
FMR(t) is the fraction of impostor scores >= t, FNMR(t) the fraction of genuine scores
< t. An operating point "FMR 1e-4" exists only when there are enough impostor pairs to
observe it (at least 1/target of them); otherwise it is reported as not reached.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class OperatingPoint:
    target_fmr: float
    threshold: float
    fmr: float
    fnmr: float


@dataclass(frozen=True)
class VerificationReport:
    genuine: int
    impostor: int
    auc: float
    eer: float
    eer_threshold: float
    d_prime: float
    operating_points: tuple[OperatingPoint, ...]
    unreached_fmr: tuple[float, ...]

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["operating_points"] = [asdict(p) for p in self.operating_points]
        d["unreached_fmr"] = list(self.unreached_fmr)
        return d


def auc(genuine: np.ndarray, impostor: np.ndarray) -> float:
    """Area under the ROC: P(genuine > impostor) + 0.5 P(tie), by ranks."""
    g, i = np.asarray(genuine, float), np.asarray(impostor, float)
    allv = np.concatenate([g, i])
    order = allv.argsort(kind="mergesort")
    ranks = np.empty(len(allv))
    sorted_v = allv[order]
    # Average ranks over ties.
    uniq, start, counts = np.unique(sorted_v, return_index=True, return_counts=True)
    avg = start + (counts - 1) / 2.0 + 1.0
    ranks[order] = np.repeat(avg, counts)
    rg = ranks[: len(g)].sum()
    return float((rg - len(g) * (len(g) + 1) / 2.0) / (len(g) * len(i)))


def rates(genuine: np.ndarray, impostor: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(FMR, FNMR) at each threshold."""
    g, i = np.sort(np.asarray(genuine, float)), np.sort(np.asarray(impostor, float))
    fmr = 1.0 - np.searchsorted(i, thresholds, side="left") / len(i)
    fnmr = np.searchsorted(g, thresholds, side="left") / len(g)
    return fmr, fnmr


def candidate_thresholds(genuine: np.ndarray, impostor: np.ndarray) -> np.ndarray:
    allv = np.unique(np.concatenate([np.asarray(genuine, float), np.asarray(impostor, float)]))
    return np.concatenate([allv, [np.nextafter(allv[-1], np.inf)]])


def eer(genuine: np.ndarray, impostor: np.ndarray) -> tuple[float, float]:
    """Equal error rate and its threshold (midpoint where FMR and FNMR cross)."""
    t = candidate_thresholds(genuine, impostor)
    fmr, fnmr = rates(genuine, impostor, t)
    k = int(np.argmin(np.abs(fmr - fnmr)))
    return float((fmr[k] + fnmr[k]) / 2.0), float(t[k])


def threshold_at_fmr(genuine: np.ndarray, impostor: np.ndarray, target: float) -> OperatingPoint | None:
    """The lowest threshold whose FMR <= target, or None if the data cannot show that FMR."""
    if len(impostor) * target < 1.0:
        return None
    t = candidate_thresholds(genuine, impostor)
    fmr, fnmr = rates(genuine, impostor, t)
    ok = np.nonzero(fmr <= target)[0]
    k = int(ok[0])
    return OperatingPoint(target_fmr=target, threshold=float(t[k]), fmr=float(fmr[k]), fnmr=float(fnmr[k]))


def d_prime(genuine: np.ndarray, impostor: np.ndarray) -> float:
    g, i = np.asarray(genuine, float), np.asarray(impostor, float)
    denom = np.sqrt((g.var() + i.var()) / 2.0)
    return float(abs(g.mean() - i.mean()) / denom) if denom > 0 else float("inf")


def verification_report(
    genuine: np.ndarray, impostor: np.ndarray, targets: tuple[float, ...] = (1e-2, 1e-3, 1e-4)
) -> VerificationReport:
    if len(genuine) == 0 or len(impostor) == 0:
        raise ValueError("need at least one genuine and one impostor score")
    e, et = eer(genuine, impostor)
    points, unreached = [], []
    for target in targets:
        p = threshold_at_fmr(genuine, impostor, target)
        if p is None:
            unreached.append(target)
        else:
            points.append(p)
    return VerificationReport(
        genuine=len(genuine),
        impostor=len(impostor),
        auc=auc(genuine, impostor),
        eer=e,
        eer_threshold=et,
        d_prime=d_prime(genuine, impostor),
        operating_points=tuple(points),
        unreached_fmr=tuple(unreached),
    )
