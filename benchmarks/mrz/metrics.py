"""Scoring of MRZ readings: exact match, character error rate, check digits, timing.

All engines are scored by these functions only, so a figure means the same in every column.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from typing import Any

from proofing.mrz.parse import parse_lines


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insertions, deletions, substitutions each cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def score(pred: Sequence[str], truth: Sequence[str]) -> dict[str, Any]:
    """Per-image figures: exact (all lines equal), edits and length for CER, check digits."""
    joined_pred, joined_truth = "\n".join(pred), "\n".join(truth)
    parsed = parse_lines(list(pred)) if pred else None
    return {
        "found": bool(pred),
        "exact": list(pred) == list(truth),
        "edits": levenshtein(joined_pred, joined_truth),
        "chars": len(joined_truth),
        "check_digits_valid": bool(parsed is not None and parsed.valid),
    }


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100) of a non-empty sequence."""
    xs = sorted(values)
    if len(xs) == 1:
        return xs[0]
    pos = (len(xs) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summarise(rows: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """Aggregate per-image scores of one engine: rates, micro-averaged CER, time quantiles."""
    rows = list(rows)
    if not rows:
        return None
    n = len(rows)
    chars = sum(r["chars"] for r in rows)
    times = [r["seconds"] for r in rows]
    return {
        "n": n,
        "exact_match": sum(r["exact"] for r in rows) / n,
        "cer": sum(r["edits"] for r in rows) / chars if chars else 0.0,
        "check_digits_valid": sum(r["check_digits_valid"] for r in rows) / n,
        "found": sum(r["found"] for r in rows) / n,
        "errors": sum(r.get("error") is not None for r in rows),
        "median_s": statistics.median(times),
        "p95_s": percentile(times, 95),
    }


def per_document(rows: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """Exact match and CER with every distinct MRZ weighted once.

    Several shared images show the same ICAO Utopia specimen; averaging over images would
    count that one document many times.
    """
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(tuple(r["truth"]), []).append(r)
    if not groups:
        return None
    exact = [sum(r["exact"] for r in g) / len(g) for g in groups.values()]
    cer = [sum(r["edits"] for r in g) / max(1, sum(r["chars"] for r in g)) for g in groups.values()]
    return {
        "documents": len(groups),
        "exact_match": sum(exact) / len(exact),
        "cer": sum(cer) / len(cer),
    }
