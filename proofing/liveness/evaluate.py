"""Score a labelled liveness list (CSV path,label,session) in one process.

Rows sharing a ``session`` form one burst judged by :func:`check_liveness`; a row with
an empty session is a single-frame session. Frame-level scores are the bursts' own
per-frame scores (each frame judged alone), so one pass gives both levels.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from proofing.imaging import ImageError, load_image
from proofing.liveness.burst import LivenessOptions, check_liveness
from proofing.liveness.metrics import PadReport, pad_report
from proofing.liveness.policy import LivenessPolicy, load_policy
from proofing.liveness.result import LivenessResult


@dataclass(frozen=True)
class Row:
    path: str
    label: str
    session: str


@dataclass
class Evaluation:
    rows: list[Row]
    #: (session id, label, result) per burst, in list order.
    sessions: list[tuple[str, str, LivenessResult]] = field(default_factory=list)

    def frame_items(self) -> list[dict[str, Any]]:
        out = []
        by_session = {sid: res for sid, _, res in self.sessions}
        for sid, rows in group(self.rows):
            res = by_session[sid]
            for i, row in enumerate(rows):
                fr = res.frames[i] if i < len(res.frames) else None
                out.append(
                    {
                        "path": row.path,
                        "label": row.label,
                        "session": row.session,
                        "score": None if fr is None or fr.score is None else round(fr.score, 5),
                        "model_scores": {} if fr is None else {k: round(v, 5) for k, v in fr.model_scores.items()},
                        "codes": list(fr.codes) if fr else list(res.reason_codes),
                        "ms": None if fr is None else round(fr.timings_ms.get("total", 0.0), 2),
                    }
                )
        return out

    def frame_report(self, threshold: float) -> PadReport:
        items = self.frame_items()
        return pad_report([i["label"] for i in items], [i["score"] for i in items], threshold)

    def session_report(self, threshold: float) -> PadReport:
        return pad_report([lab for _, lab, _ in self.sessions], [r.score for _, _, r in self.sessions], threshold)


def read_list(path: Path) -> list[Row]:
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"path", "label"} <= set(reader.fieldnames):
            raise ValueError("expected a CSV with columns path,label[,session]")
        return [Row(r["path"], r["label"].strip(), (r.get("session") or "").strip()) for r in reader]


def group(rows: list[Row]) -> list[tuple[str, list[Row]]]:
    """Bursts in first-seen order; a row without a session is a session of its own."""
    out: dict[str, list[Row]] = {}
    for i, row in enumerate(rows):
        out.setdefault(row.session or f"#{i}:{row.path}", []).append(row)
    return list(out.items())


def load_frames(base: Path, rows: list[Row]) -> tuple[list[Any], list[str]]:
    frames, codes = [], []
    for row in rows:
        try:
            frames.append(load_image(base / row.path))
        except ImageError as e:
            codes.append(e.code)
    return frames, codes


def evaluate_list(
    list_csv: Path,
    policy: LivenessPolicy | None = None,
    opts: LivenessOptions | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Evaluation:
    policy = policy or load_policy()
    rows = read_list(list_csv)
    ev = Evaluation(rows)
    groups = group(rows)
    for n, (sid, members) in enumerate(groups, 1):
        labels = {r.label for r in members}
        if len(labels) != 1:
            raise ValueError(f"session {sid!r} mixes labels {sorted(labels)}")
        frames, bad = load_frames(list_csv.parent, members)
        result = check_liveness(frames if not bad else [], policy, opts)
        if bad:
            result = _unreadable(result, bad)
        ev.sessions.append((sid, members[0].label, result))
        if progress:
            progress(n, len(groups))
    return ev


def _unreadable(result: LivenessResult, codes: list[str]) -> LivenessResult:
    from dataclasses import replace

    return replace(result, reason_codes=tuple(dict.fromkeys(["IMAGE_UNREADABLE", *codes])))
