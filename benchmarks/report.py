"""One report for every benchmark: ``benchmarks/results/<date>/report.md``.

    .venv/bin/python -m benchmarks.report [--out DIR]

Gathers the Markdown each benchmark wrote into the folder (its headings pushed one level
down), links its JSON, and shows any of its plots the Markdown did not already show. A
benchmark that did not run this time is still included from its earlier file in the same
folder, marked with that file's time, so a partial re-run keeps one complete report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
#: (file stem, title, how to reproduce); plots are the PNGs whose names start with the stem.
BENCHMARKS = [
    ("mrz", "MRZ reading", ".venv/bin/python -m benchmarks.mrz.run"),
    ("nfc", "Chip reading and verification", ".venv/bin/python -m benchmarks.nfc.run"),
    ("face", "Face matching", ".venv/bin/python -m benchmarks.face.run"),
    ("liveness", "Liveness (presentation attack detection)", ".venv/bin/python -m benchmarks.liveness.run"),
    ("load", "Load: whole sessions over HTTP", ".venv/bin/python -m benchmarks.load.run"),
    ("load_soak", "Soak: workers killed under load", ".venv/bin/python -m benchmarks.load.run --soak-min 10"),
]


def _demote(md: str) -> str:
    """Headings one level down, so each benchmark is a section of the report."""
    out, fenced = [], False
    for line in md.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        out.append("#" + line if not fenced and re.match(r"#{1,5} ", line) else line)
    return "\n".join(out)


def write_report(out_dir: Path, ran: dict[str, dict[str, Any]] | None = None) -> Path:
    """Write ``out_dir/report.md``; ``ran`` maps a benchmark to what this run did
    (``{"ok": bool, "seconds": float, "args": [...]}``)."""
    ran = ran or {}
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    head = [f"# Benchmark report {out_dir.name}", "", f"Written {now} by `proofing bench`.", "",
            "| benchmark | this run | result files |", "|---|---|---|"]
    sections: list[str] = []
    for stem, title, how in BENCHMARKS:
        md, js = out_dir / f"{stem}.md", out_dir / f"{stem}.json"
        r = ran.get(stem)
        if r is not None:
            status = f"{'ran' if r['ok'] else '**failed**'} in {r['seconds']:.0f} s"
            if r.get("args"):
                status += f" (`{' '.join(r['args'])}`)"
        elif md.exists():
            status = f"not run; earlier result of {dt.datetime.fromtimestamp(md.stat().st_mtime, dt.UTC):%Y-%m-%d %H:%M} UTC"
        else:
            status = "not run, no result"
        files = ", ".join(f"[{p.name}]({p.name})" for p in (md, js) if p.exists()) or "–"
        head.append(f"| {title} | {status} | {files} |")
        if not md.exists():
            if r is not None and not r["ok"]:
                sections += [f"## {title}", "", f"Failed; see `{stem}.log` in this folder.", ""]
            continue
        text = md.read_text()
        pngs = sorted(p.name for p in out_dir.glob(f"{stem}*.png")
                      if p.name not in text and not (stem == "load" and p.name.startswith("load_soak")))
        body = _demote(text).strip().splitlines()
        if not body or not body[0].startswith("## "):
            body = [f"## {title}", "", *body]
        if "Reproduce" not in text:
            body[1:1] = ["", f"Reproduce: `{how}` (options: benchmarks/README.md, `--help`)."]
        sections += [*body, ""]
        sections += [f"![{p}]({p})" for p in pngs]
        sections.append("")
    path = out_dir / "report.md"
    path.write_text("\n".join(head + [""] + sections) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Gather the benchmarks' Markdown into report.md.")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / dt.date.today().isoformat())
    args = ap.parse_args(argv)
    print(write_report(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
