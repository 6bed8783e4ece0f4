"""Operating points from labelled pairs, written into the face policy file.

Thresholds are data, not code: this computes, for each target FMR the pair list can show
(1e-2, 1e-3, 1e-4), the lowest cosine threshold whose observed FMR is at most the target,
and rewrites the policy file's ``[match]`` table with them and with what they were
computed from (pair list, counts, model version), leaving the rest of the file as it is.
"""

from __future__ import annotations

import datetime as _dt
import re
from pathlib import Path

from proofing.face.metrics import VerificationReport
from proofing.face.policy import fmr_key

TARGETS = (1e-2, 1e-3, 1e-4)
#: The start of a thresholds file that does not exist yet (a new face mode's).
NEW_FILE_HEADER = """# Face-matching thresholds of one face stage mode, written by `proofing face calibrate`.
# Quality limits are read from face_thresholds.toml when this file has no [quality].

"""


def _match_table(
    report: VerificationReport, operating_point: str, calibrated_for: str, source: str
) -> str:
    lines = [
        "[match]",
        f'operating_point = "{operating_point}"',
        f'calibrated_for = "{calibrated_for}"',
        "",
        "[match.thresholds]",
    ]
    for p in report.operating_points:
        lines.append(f'"{fmr_key(p.target_fmr)}" = {p.threshold:.6f}')
    lines += [
        "",
        "[match.calibration]",
        f'pairs = "{source}"',
        f'date = "{_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}"',
        f"genuine = {report.genuine}",
        f"impostor = {report.impostor}",
        f"auc = {report.auc:.6f}",
        f"eer = {report.eer:.6f}",
        f"eer_threshold = {report.eer_threshold:.6f}",
    ]
    for p in report.operating_points:
        lines.append(f'"fnmr_at_{fmr_key(p.target_fmr)}" = {p.fnmr:.6f}')
    if report.unreached_fmr:
        unreached = ", ".join(f'"{fmr_key(t)}"' for t in report.unreached_fmr)
        lines.append(f"not_reached = [{unreached}]  # too few impostor pairs to observe these")
    return "\n".join(lines) + "\n"


def write_match_policy(
    policy_path: Path,
    report: VerificationReport,
    calibrated_for: str,
    source: str,
    operating_point: str | None = None,
) -> str:
    """Replace the ``[match]`` tables of ``policy_path``; returns the operating point used."""
    reached = [fmr_key(p.target_fmr) for p in report.operating_points]
    if not reached:
        raise ValueError("no operating point reached: the pair list has too few impostor pairs")
    text = policy_path.read_text() if policy_path.exists() else NEW_FILE_HEADER
    current = re.search(r'^operating_point\s*=\s*"([^"]+)"', text, re.M)
    op = operating_point or (current.group(1) if current else reached[-1])
    if op not in reached:
        op = reached[-1]  # the strictest the data supports
    table = _match_table(report, op, calibrated_for, source)
    # The [match] block runs from its header to the next table that is not [match.*].
    start = re.search(r"^\[match\]\s*$", text, re.M)
    if start is None:
        new = text.rstrip() + "\n\n" + table
    else:
        nxt = re.search(r"^\[(?!match[\].])[^\]]+\]\s*$", text[start.end() :], re.M)
        end = start.end() + nxt.start() if nxt else len(text)
        new = text[: start.start()] + table + ("\n" if nxt else "") + text[end:]
    policy_path.write_text(new)
    return op
