"""MRZ benchmark: our reader vs PassportEye on the shared specimens and a synthetic corpus.

    .venv/bin/python -m benchmarks.mrz.run [--synthetic N] [--seed S] [--out DIR]

Both engines read the same files in the same process, interleaved image by image with the
order rotated, so background load on a shared machine hits every column alike. Results go
to ``benchmarks/results/<date>/mrz.{json,md,png}``; the Markdown summary is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.mrz.engines import Engine
from benchmarks.mrz.metrics import per_document, score, summarise
from benchmarks.mrz.report import markdown, plot

REPO = Path(__file__).resolve().parents[2]


def shared_dir() -> Path:
    return Path(os.environ.get("PROOFING_SHARED_DATA_DIR") or REPO.parent / "shared" / "data")


def _default_models_dir() -> None:
    """Point the model registry at ../shared/models (the OCR-B traineddata) unless set."""
    models = REPO.parent / "shared" / "models"
    if models.is_dir():
        os.environ.setdefault("PROOFING_MODELS_DIR", str(models))


def shared_items(root: Path) -> Iterator[dict[str, Any]]:
    """The shared specimens; truth is the MRZ-charset version where the print has 'Ñ'."""
    gt_path = root / "mrz" / "ground_truth.json"
    for entry in json.loads(gt_path.read_text()):
        yield {
            "set": "shared",
            "file": str(root / "mrz" / entry["file"]),
            "doc_type": entry["doc_type"],
            "truth": entry.get("lines_mrz_charset", entry["lines"]),
            "tags": entry.get("flags", []),
        }


def synthetic_items(n: int, seed: int, tmp: Path) -> Iterator[dict[str, Any]]:
    """Generate, write and yield one synthetic image at a time (generation is not timed)."""
    from proofing.mrz.synth import iter_samples

    for sample in iter_samples(n, seed):
        path = tmp / sample.filename
        path.write_bytes(sample.data)
        yield {
            "set": "synthetic",
            "file": str(path),
            "name": sample.filename,
            "doc_type": sample.doc_type,
            "truth": sample.lines,
            "tags": list(sample.tags),
            "params": sample.params,
        }


def run_items(items: Iterator[dict[str, Any]], engines: list[Engine], progress: bool,
              deadline: float | None = None) -> list[dict[str, Any]]:
    """Run every engine on every item; stop taking new items once ``deadline`` has passed."""
    records = []
    for i, item in enumerate(items):
        if deadline is not None and time.perf_counter() > deadline:
            print(f"time budget spent: stopping after {i} {item['set']} images", file=sys.stderr)
            break
        order = engines[i % len(engines):] + engines[: i % len(engines)]
        results: dict[str, Any] = {}
        for engine in order:
            reading = engine.read(Path(item["file"]))
            if reading is None:
                continue
            row = {"lines": reading.lines, "seconds": round(reading.seconds, 4),
                   "error": reading.error}
            if item["truth"]:
                row.update(score(reading.lines, item["truth"]))
            results[engine.name] = row
        item = dict(item)
        if item["set"] == "synthetic":
            Path(item.pop("file")).unlink(missing_ok=True)
            item["file"] = item.pop("name")
        item["results"] = results
        records.append(item)
        if progress:
            brief = " ".join(
                f"{k}={'ok' if r.get('exact') else 'x'}:{r['seconds']:.1f}s" for k, r in results.items()
            )
            print(f"[{item['set']} {i + 1}] {Path(item['file']).name} {brief}", file=sys.stderr,
                  flush=True)
    return records


def _rows(records: list[dict[str, Any]], engine: str) -> list[dict[str, Any]]:
    return [dict(r["results"][engine], truth=r["truth"]) for r in records
            if r["truth"] and engine in r["results"]]


def summarise_all(records: list[dict[str, Any]], engine_names: list[str]) -> dict[str, Any]:
    sets = sorted({r["set"] for r in records}, key=["shared", "synthetic"].index)
    by_set = {s: [r for r in records if r["set"] == s] for s in sets}
    overall = {s: {e: summarise(_rows(rs, e)) for e in engine_names} for s, rs in by_set.items()}
    time_ratio: dict[str, dict[str, float]] = {}
    for s, per_engine in overall.items():
        pe = per_engine.get("passporteye")
        for e, summ in per_engine.items():
            if pe and summ and pe["median_s"] > 0:
                time_ratio.setdefault(s, {})[e] = summ["median_s"] / pe["median_s"]
    by_doc_type = {
        s: {t: {e: summarise(_rows([r for r in rs if r["doc_type"] == t], e)) for e in engine_names}
            for t in ("TD1", "TD2", "TD3", "MRV-A", "MRV-B") if any(r["doc_type"] == t for r in rs)}
        for s, rs in by_set.items()
    }
    from proofing.mrz.synth import DEGRADATIONS

    synth = by_set.get("synthetic", [])
    by_degradation = {"synthetic": {
        tag: {e: summarise(_rows([r for r in synth if tag in r["tags"]], e)) for e in engine_names}
        for tag in DEGRADATIONS if any(tag in r["tags"] for r in synth)
    }} if synth else {}
    shared = by_set.get("shared", [])
    negatives = {}
    neg = [r for r in shared if not r["truth"]]
    for e in engine_names:
        reads = [r["results"][e] for r in neg if e in r["results"]]
        if reads:
            negatives[e] = {"n": len(reads), "false_reads": sum(bool(x["lines"]) for x in reads)}
    return {
        "overall": overall,
        "time_ratio": time_ratio,
        "shared_per_document": {e: per_document(_rows(shared, e)) for e in engine_names},
        "negatives": negatives,
        "by_doc_type": by_doc_type,
        "by_degradation": by_degradation,
    }


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _glyph_model() -> dict[str, Any] | None:
    """The glyph classifier's build record, or None when it is not built here."""
    from proofing.mrz.glyphs import glyph_model

    model = glyph_model()
    return None if model is None else {"sha256": model.sha256, **{
        k: model.record[k] for k in ("corpus", "network", "heldout") if k in model.record}}


def _tesseract_version() -> str:
    try:
        out = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "not found"
    return (out.stdout or out.stderr).split("\n", 1)[0].replace("tesseract ", "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--synthetic", type=int, default=500, help="synthetic images (0: none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None,
                    help="output folder (default benchmarks/results/<YYYY-MM-DD>)")
    ap.add_argument("--engines", default="ours,ours_tess,ours_eng,passporteye")
    ap.add_argument("--no-shared", action="store_true", help="skip the shared specimens")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per engine call")
    ap.add_argument("--quiet", action="store_true", help="no per-image progress on stderr")
    ap.add_argument("--budget-min", type=float, default=0.0,
                    help="stop starting synthetic images after this many minutes (0: no limit)")
    args = ap.parse_args(argv)
    _default_models_dir()

    today = datetime.now(UTC).date().isoformat()
    out_dir = args.out or REPO / "benchmarks" / "results" / today
    names = [e.strip() for e in args.engines.split(",") if e.strip()]
    engines = [Engine(name, args.timeout) for name in names]
    started = time.perf_counter()
    records: list[dict[str, Any]] = []
    root = shared_dir()
    if not args.no_shared:
        if (root / "mrz" / "ground_truth.json").is_file():
            records += run_items(shared_items(root), engines, not args.quiet)
        else:
            print(f"shared data not found at {root} (set PROOFING_SHARED_DATA_DIR); skipping",
                  file=sys.stderr)
    if args.synthetic > 0:
        with tempfile.TemporaryDirectory(prefix="mrz-bench-") as tmp:
            deadline = started + 60 * args.budget_min if args.budget_min > 0 else None
            records += run_items(synthetic_items(args.synthetic, args.seed, Path(tmp)), engines,
                                 not args.quiet, deadline)
    ran = [e.name for e in engines if any(e.name in r["results"] for r in records)]
    summary = summarise_all(records, ran)
    summary["engines"] = ran
    summary["unavailable"] = {e.name: e.unavailable for e in engines if e.unavailable}
    summary["config"] = {
        "date": today,
        "synthetic": sum(r["set"] == "synthetic" for r in records),
        "synthetic_requested": args.synthetic,
        "seed": args.seed,
        "timeout_s": args.timeout,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "tesseract": _tesseract_version(),
        "passporteye": _version("passporteye"),
        "glyph_model": _glyph_model(),
        "wall_s": round(time.perf_counter() - started, 1),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    # The summary indented for reading, each image's record on one line (keeps the file small).
    body = ",\n".join(json.dumps(r, separators=(",", ":"), default=str) for r in records)
    (out_dir / "mrz.json").write_text(
        '{"summary": ' + json.dumps(summary, indent=1) + ',\n"records": [\n' + body + "\n]}\n")
    md = markdown(summary)
    (out_dir / "mrz.md").write_text(md)
    times = {e: [r["results"][e]["seconds"] for r in records if e in r["results"]] for e in ran}
    plot(summary, times, out_dir / "mrz.png")
    print(md)
    print(f"written: {out_dir}/mrz.{{json,md,png}}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
