"""Per-character voting across several readings of the same MRZ (a webcam burst)."""

from __future__ import annotations

from collections import Counter


def vote_lines(readings: list[list[str]]) -> tuple[list[str], float]:
    """Majority character per position over readings of the most common shape.

    Readings of another shape (line count or lengths) are ignored. Returns the voted lines
    and the agreement: the mean, over positions, of the share of readings that agree with
    the winning character (1.0 = all readings identical).
    """
    if not readings:
        return [], 0.0
    shapes = Counter(tuple(len(line) for line in r) for r in readings)
    shape = shapes.most_common(1)[0][0]
    same = [r for r in readings if tuple(len(line) for line in r) == shape]
    voted: list[str] = []
    agreement = 0.0
    n_pos = 0
    for i, length in enumerate(shape):
        chars = []
        for pos in range(length):
            counts = Counter(r[i][pos] for r in same)
            # Ties go to the earliest reading's character (frames come in capture order).
            top = max(counts.values())
            winner = next(r[i][pos] for r in same if counts[r[i][pos]] == top)
            chars.append(winner)
            agreement += top / len(same)
            n_pos += 1
        voted.append("".join(chars))
    return voted, agreement / n_pos if n_pos else 0.0
