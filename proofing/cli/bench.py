"""``proofing bench``: run the benchmarks (each its own process, as documented in
benchmarks/README.md) and gather them into ``benchmarks/results/<date>/report.md``.

The benchmarks live in the source checkout, not in the installed package: the command
runs from the checkout that holds this module."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import typer

from proofing.cli.app import app, fail

NAMES = ("mrz", "nfc", "face", "liveness", "load")
#: Arguments per benchmark: full run, and a smoke run (minutes, not hours, on 2 cores).
FULL: dict[str, list[str]] = {"mrz": ["--quiet"], "nfc": [], "face": [], "liveness": [], "load": []}
QUICK: dict[str, list[str]] = {
    "mrz": ["--quiet", "--synthetic", "20", "--budget-min", "3"],
    "nfc": ["--sessions", "3"],
    "face": ["--sets", "deepface_unit", "--variants", "fp32", "--threads", "1", "--frames", "5",
             "--repeats", "1", "--no-dlib"],
    "liveness": ["--variants", "fp32", "--no-peer", "--no-landmarker"],
    "load": ["--quick"],
}


def checkout() -> Path:
    root = Path(__file__).resolve().parents[2]
    if not (root / "benchmarks" / "__init__.py").is_file():
        raise fail(f"no benchmarks/ next to the package ({root}): run from a source checkout")
    return root


@app.command("bench")
def bench(
    only: str = typer.Option(",".join(NAMES), "--only", help="Comma-separated: " + ", ".join(NAMES) + "."),
    quick: bool = typer.Option(False, "--quick", help="Smoke runs (small counts); results go to <date>-quick."),
    out: Path | None = typer.Option(None, "--out", help="Results folder (default benchmarks/results/<date>)."),
    soak_min: float = typer.Option(0.0, "--soak-min", min=0.0,
                                   help="Also run the soak (N minutes, a worker killed every minute)."),
    timeout_min: float = typer.Option(0.0, "--timeout-min", min=0.0, help="Per benchmark (0: none)."),
    report_only: bool = typer.Option(False, "--report-only", help="Only gather what the folder holds."),
) -> None:
    """Run the MRZ, NFC, face, liveness and load benchmarks and write report.md."""
    root = checkout()
    chosen = [n.strip() for n in only.split(",") if n.strip()]
    if unknown := [n for n in chosen if n not in NAMES]:
        raise fail(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(NAMES)}")
    day = dt.date.today().isoformat()
    out_dir = (out or root / "benchmarks" / "results" / (f"{day}-quick" if quick else day)).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    runs: list[tuple[str, list[str]]] = [] if report_only else [
        (n, (QUICK if quick else FULL)[n]) for n in chosen]
    if soak_min > 0 and not report_only:
        runs.append(("load_soak", ["--soak-min", f"{soak_min:g}", "--kill-every", "60"]))
    ran: dict[str, dict[str, object]] = {}
    for name, args in runs:
        module = "benchmarks.load.run" if name == "load_soak" else f"benchmarks.{name}.run"
        argv = [sys.executable, "-m", module, *args, "--out", str(out_dir)]
        typer.echo(f"bench: {name}: {' '.join(argv[1:])}", err=True)
        t0 = time.perf_counter()
        with (out_dir / f"{name}.log").open("wb") as log:
            try:
                rc = subprocess.run(argv, cwd=root, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(),
                                    timeout=timeout_min * 60 or None, check=False).returncode
            except subprocess.TimeoutExpired:
                rc = 124
        seconds = time.perf_counter() - t0
        ran[name] = {"ok": rc == 0, "seconds": seconds, "args": args, "rc": rc}
        typer.echo(f"bench: {name}: {'ok' if rc == 0 else f'FAILED (exit {rc}, see {name}.log)'} "
                   f"in {seconds:.0f} s", err=True)
    sys.path.insert(0, str(root))
    from benchmarks.report import write_report

    path = write_report(out_dir, ran)
    typer.echo(str(path))
    if any(not r["ok"] for r in ran.values()):
        raise typer.Exit(1)
