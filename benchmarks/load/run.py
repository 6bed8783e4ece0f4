"""Load benchmark: whole applicant sessions through ``proofing serve`` over HTTP.

    .venv/bin/python -m benchmarks.load.run [--modes inprocess,celery1,celery2] [--quick]
    .venv/bin/python -m benchmarks.load.run --soak-min 10 --kill-every 60

Each mode gets a fresh PostgreSQL database, its own server (and workers on a private Redis
database), a warm-up, then two phases: *latency* (one applicant at a time: what a session
costs with nobody queueing) and *throughput* (``--concurrency`` applicants in a closed
loop). Each session uploads 5 document frames, the chip files (+ the AA signature over
the server's challenge) and 8 selfie frames from the demo's own samples, submits, and
polls until decided. Server-side times come from the database: submit -> decided, and
the pipeline's per-stage timings in the session summary. On the one-worker stack it also
measures how a session's cost grows with frames per session and with image size.

The soak mode runs two workers for N minutes under load, SIGKILLs one every
``--kill-every`` seconds (and starts it again), then counts sessions lost and sessions
decided twice. Everything is bounded (sessions, seconds) and targets loopback only.
Results: ``benchmarks/results/<date>/load.{json,md,png}`` (soak: ``load_soak.{json,md}``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.load.client import Drive, Outcome, Payload, RssSampler, Samples, SourceAddresses
from benchmarks.load.stack import REDIS_DBS, Stack, require_loopback

REPO = Path(__file__).resolve().parents[2]
MODES = {"inprocess": [], "celery1": [1], "celery2": [1, 1]}
STAGES = ("mrz", "chip", "mrz_chip", "liveness", "face_chip", "face_page", "decide")
FRAME_POINTS = [(1, 2), (3, 4), (5, 8), (8, 12), (12, 16)]
SCALE_POINTS = [0.5, 0.75, 1.0, 1.5, 2.0]


def pct(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"n": 0, "p50": None, "p95": None, "p99": None, "mean": None, "max": None}
    a = np.asarray(values, float)
    return {"n": int(a.size), "p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
            "p99": float(np.percentile(a, 99)), "mean": float(a.mean()), "max": float(a.max())}


def server_rows(stack: Stack, session_ids: list[str]) -> dict[str, dict[str, Any]]:
    """What the database knows of each session: timestamps, attempts, cases, stage timings."""
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from proofing.intake.models import ApplicantSession
    from proofing.review.models import Case

    out: dict[str, dict[str, Any]] = {}
    if not session_ids:
        return out
    with Session(stack.engine) as s:
        cases = dict(s.execute(select(Case.session_id, func.count()).where(Case.session_id.in_(session_ids))
                               .group_by(Case.session_id)).all())
        for row in s.scalars(select(ApplicantSession).where(ApplicantSession.id.in_(session_ids))):
            summary = json.loads(row.summary) if row.summary else {}
            out[row.id] = {
                "status": row.status, "decision": row.decision, "attempts": row.attempts,
                "cases": int(cases.get(row.id, 0)),
                "submit_to_decided_s": (row.decided_at - row.submitted_at).total_seconds()
                if row.decided_at and row.submitted_at else None,
                "timings_ms": summary.get("timings_ms", {}),
            }
    return out


def summarize(outcomes: list[Outcome], rows: dict[str, dict[str, Any]], wall_s: float) -> dict[str, Any]:
    ok = [o for o in outcomes if o.status == "decided"]
    srv = [rows[o.session_id] for o in ok if o.session_id in rows]
    stages = {name: pct([r["timings_ms"][name] / 1000 for r in srv if name in r["timings_ms"]])
              for name in STAGES}
    # Decoding the frames happens before the first stage: the pipeline total less its stages.
    stages["decode+other"] = pct([(r["timings_ms"]["total"] - sum(r["timings_ms"].get(n, 0.0) for n in STAGES))
                                  / 1000 for r in srv if "total" in r["timings_ms"]])
    decisions: dict[str, int] = {}
    for o in ok:
        decisions[str(o.decision)] = decisions.get(str(o.decision), 0) + 1
    return {
        "sessions": len(outcomes), "decided": len(ok), "errors": len(outcomes) - len(ok),
        "error_rate": (len(outcomes) - len(ok)) / len(outcomes) if outcomes else None,
        "wall_s": wall_s, "sessions_per_s": len(ok) / wall_s if wall_s > 0 else None,
        "e2e_s": pct([o.latency_s for o in ok]),
        "upload_s": pct([o.upload_s for o in ok if o.upload_s is not None]),
        "server_submit_to_decided_s": pct([r["submit_to_decided_s"] for r in srv if r["submit_to_decided_s"]]),
        "server_pipeline_s": pct([r["timings_ms"]["total"] / 1000 for r in srv if "total" in r["timings_ms"]]),
        "stages_s": stages,
        "decisions": decisions,
        "max_cases_per_session": max((r["cases"] for r in srv), default=0),
        "error_samples": sorted({o.error for o in outcomes if o.error})[:5],
    }


class Phase:
    """One measurement, possibly run in several chunks (interleaved with other modes)."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self.outcomes: list[Outcome] = []
        self.wall_s = 0.0
        self.peak_rss = 0
        self.peak_by: dict[str, int] = {}
        self.loadavg: list[float] = []
        self.stack: Stack | None = None

    def run(self, stack: Stack, payload: Payload, sessions: int, max_s: float, sources: SourceAddresses,
            poll_s: float) -> Phase:
        drive = Drive(stack.base_url, payload, self.concurrency, sessions, max_s, sources=sources, poll_s=poll_s)
        self.loadavg.append(os.getloadavg()[0])
        with RssSampler(stack.pids) as rss:
            self.outcomes += drive.run()
        self.loadavg.append(os.getloadavg()[0])
        self.wall_s += drive.ended - drive.started
        self.peak_rss = max(self.peak_rss, rss.peak_total)
        for k, v in rss.peak_by.items():
            self.peak_by[k] = max(self.peak_by.get(k, 0), v)
        self.stack = stack
        return self

    def result(self) -> dict[str, Any]:
        assert self.stack is not None, "run() first"
        rows = server_rows(self.stack, [o.session_id for o in self.outcomes if o.session_id])
        out = summarize(self.outcomes, rows, self.wall_s)
        out.update({"concurrency": self.concurrency, "peak_rss_mb": self.peak_rss / 2**20,
                    "peak_rss_mb_by_process": {k: v / 2**20 for k, v in self.peak_by.items()},
                    "loadavg_1min": {"min": min(self.loadavg, default=None), "max": max(self.loadavg, default=None)}})
        return out


def phase(stack: Stack, payload: Payload, concurrency: int, sessions: int, max_s: float,
          sources: SourceAddresses, poll_s: float) -> dict[str, Any]:
    return Phase(concurrency).run(stack, payload, sessions, max_s, sources, poll_s).result()


def log(msg: str) -> None:
    print(f"[load {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def chunks(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def run_modes(modes: list[str], args: argparse.Namespace, samples: Samples, trust: Path, work: Path,
              sources: SourceAddresses) -> list[dict[str, Any]]:
    """Every mode's stack up at once; the phases run in rounds, mode after mode, so that a
    change in the machine's background load hits every mode alike."""
    payload = samples.payload(5, 8)
    results: dict[str, dict[str, Any]] = {}
    stacks: dict[str, Stack] = {}
    with contextlib.ExitStack() as es:
        redis_dbs = iter(REDIS_DBS)
        for mode in modes:
            t0 = time.perf_counter()
            stack = Stack(work / mode, host=args.host, workers=MODES[mode], trust_file=trust,
                          redis_db=next(redis_dbs) if MODES[mode] else REDIS_DBS[0])
            stacks[mode] = es.enter_context(stack)
            results[mode] = {"mode": mode, "workers": MODES[mode], "startup_s": time.perf_counter() - t0,
                             "payload": {"document_frames": 5, "selfie_frames": 8, "chip_files": len(payload.chip),
                                         "upload_mb": payload.upload_bytes / 2**20}}
            log(f"{mode}: up in {results[mode]['startup_s']:.1f} s; warm-up")
            phase(stack, payload, 1, args.warmup, 300, sources, args.poll)
        for name, conc, total in (("latency", 1, args.latency_sessions),
                                  ("throughput", args.concurrency, args.sessions)):
            phases = {m: Phase(conc) for m in modes}
            for r, n in enumerate(chunks(total, args.rounds)):
                for mode in modes:
                    log(f"{mode}: {name} round {r + 1}/{args.rounds} ({n} sessions, {conc} at a time)")
                    phases[mode].run(stacks[mode], payload, n, args.max_s / args.rounds, sources, args.poll)
            for mode in modes:
                results[mode][name] = phases[mode].result()
        if "celery1" in stacks and args.scaling:
            log("celery1: scaling (frames per session, image size)")
            results["celery1"]["scaling"] = scaling(stacks["celery1"], samples, args, sources)
    for mode in modes:
        log(f"{mode}: {json.dumps(brief(results[mode]))}")
    return [results[m] for m in modes]


def scaling(stack: Stack, samples: Samples, args: argparse.Namespace, sources: SourceAddresses) -> dict[str, Any]:
    n = args.scaling_sessions
    frames, sizes = [], []
    for n_doc, n_selfie in FRAME_POINTS:
        p = phase(stack, samples.payload(n_doc, n_selfie), 1, n, args.max_s, sources, args.poll)
        frames.append({"document_frames": n_doc, "selfie_frames": n_selfie, **point(p)})
    for scale in SCALE_POINTS:
        payload = samples.payload(5, 8, scale)
        p = phase(stack, payload, 1, n, args.max_s, sources, args.poll)
        sizes.append({"scale": scale, "megapixels_page_plus_selfie": payload.megapixels,
                      "upload_mb": payload.upload_bytes / 2**20, **point(p)})
    return {"sessions_per_point": n, "frames": frames, "image_size": sizes}


def point(p: dict[str, Any]) -> dict[str, Any]:
    return {"decided": p["decided"], "errors": p["errors"], "e2e_p50_s": p["e2e_s"]["p50"],
            "server_p50_s": p["server_submit_to_decided_s"]["p50"], "pipeline_p50_s": p["server_pipeline_s"]["p50"],
            "stages_p50_s": {k: v["p50"] for k, v in p["stages_s"].items()}, "decisions": p["decisions"]}


def brief(r: dict[str, Any]) -> dict[str, Any]:
    t, lat = r.get("throughput", {}), r.get("latency", {})
    return {"mode": r["mode"], "sessions_per_s": t.get("sessions_per_s"),
            "e2e_p50": t.get("e2e_s", {}).get("p50"),
            "server_p50_one_at_a_time": lat.get("server_submit_to_decided_s", {}).get("p50"),
            "pipeline_p50": lat.get("server_pipeline_s", {}).get("p50"), "errors": t.get("errors")}


# -- soak ---------------------------------------------------------------------------------


def soak(args: argparse.Namespace, samples: Samples, trust: Path, work: Path,
         sources: SourceAddresses) -> dict[str, Any]:
    """Two workers under load; one SIGKILLed (and restarted) every ``kill_every`` seconds."""
    payload = samples.payload(5, 8)
    lease, visibility = args.soak_lease, args.soak_visibility
    kills: list[dict[str, Any]] = []
    with Stack(work / "soak", host=args.host, workers=[1, 1], lease_s=lease, visibility_s=visibility,
               trust_file=trust) as stack:
        stop = threading.Event()

        def killer() -> None:
            i = 0
            while not stop.wait(args.kill_every):
                victim = i % len(stack.worker_procs)
                t = time.perf_counter()
                stack.restart_worker(victim)
                kills.append({"at_s": round(t - t0, 1), "worker": victim})
                log(f"soak: killed worker{victim} (kill {len(kills)})")
                i += 1

        t0 = time.perf_counter()
        th = threading.Thread(target=killer, daemon=True)
        th.start()
        drive = Drive(stack.base_url, payload, args.concurrency, args.soak_max_sessions, args.soak_min * 60,
                      sources=sources, poll_s=args.poll, decide_timeout_s=lease + visibility + 240)
        with RssSampler(stack.pids) as rss:
            try:
                outcomes = drive.run()
            finally:
                stop.set()
                th.join(timeout=120)
        wall = drive.ended - drive.started
        # Drain: sessions whose applicant gave up may still be decided by a worker.
        submitted = [o.session_id for o in outcomes if o.session_id and o.submitted_at is not None]
        deadline = time.perf_counter() + lease + visibility + 120
        rows = server_rows(stack, submitted)
        while time.perf_counter() < deadline and any(r["status"] != "decided" for r in rows.values()):
            time.sleep(2)
            rows = server_rows(stack, submitted)
        lost = [sid for sid in submitted if rows.get(sid, {}).get("status") != "decided"]
        twice = [sid for sid in submitted if rows.get(sid, {}).get("cases", 0) > 1]
        summary = summarize(outcomes, rows, wall)
        return {
            "minutes": args.soak_min, "kill_every_s": args.kill_every, "lease_s": lease,
            "visibility_timeout_s": visibility, "concurrency": args.concurrency,
            "kills": kills, "submitted": len(submitted),
            "decided": sum(1 for r in rows.values() if r["status"] == "decided"),
            "lost": len(lost), "lost_ids": lost[:20], "decided_twice": len(twice), "decided_twice_ids": twice[:20],
            "taken_over": sum(1 for r in rows.values() if (r["attempts"] or 0) > 1),
            "cases_total": sum(r["cases"] for r in rows.values()),
            "peak_rss_mb": rss.peak_total / 2**20, **{k: summary[k] for k in (
                "sessions", "errors", "error_rate", "sessions_per_s", "e2e_s", "server_submit_to_decided_s",
                "server_pipeline_s", "error_samples")},
        }


# -- main ---------------------------------------------------------------------------------


def environment() -> dict[str, Any]:
    return {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "loadavg_at_start": os.getloadavg(), "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1", help="loopback address to serve on (nothing else is accepted)")
    ap.add_argument("--modes", default="inprocess,celery1,celery2")
    ap.add_argument("--sessions", type=int, default=30, help="throughput phase: sessions per mode (at most)")
    ap.add_argument("--latency-sessions", type=int, default=8, help="latency phase: sessions, one at a time")
    ap.add_argument("--warmup", type=int, default=2, help="sessions run first and not counted")
    ap.add_argument("--concurrency", type=int, default=4, help="applicants in flight at once")
    ap.add_argument("--max-s", type=float, default=180.0, help="time limit of each phase (seconds)")
    ap.add_argument("--rounds", type=int, default=3, help="phases split in rounds, modes interleaved")
    ap.add_argument("--poll", type=float, default=0.1, help="seconds between status polls")
    ap.add_argument("--no-scaling", dest="scaling", action="store_false", help="skip frames / image size")
    ap.add_argument("--scaling-sessions", type=int, default=3, help="sessions per scaling point")
    ap.add_argument("--soak-min", type=float, default=0.0, help="soak mode: minutes of load (0: no soak)")
    ap.add_argument("--kill-every", type=float, default=60.0, help="soak: seconds between worker kills")
    ap.add_argument("--soak-lease", type=float, default=10.0, help="soak: processing lease (seconds)")
    ap.add_argument("--soak-visibility", type=int, default=20, help="soak: Redis redelivery timeout (seconds)")
    ap.add_argument("--soak-max-sessions", type=int, default=2000, help="soak: sessions at most")
    ap.add_argument("--quick", action="store_true", help="a smoke run: few sessions, fewer points")
    ap.add_argument("--out", type=Path, default=None, help="output folder (default benchmarks/results/<date>)")
    args = ap.parse_args(argv)
    require_loopback(args.host)
    if args.quick:
        args.sessions, args.latency_sessions, args.warmup, args.scaling_sessions, args.rounds = 6, 3, 1, 1, 1
        args.max_s = min(args.max_s, 90.0)
        global FRAME_POINTS, SCALE_POINTS
        FRAME_POINTS, SCALE_POINTS = [(1, 2), (5, 8), (12, 16)], [0.5, 1.0, 2.0]
    modes = [m for m in args.modes.split(",") if m]
    if unknown := [m for m in modes if m not in MODES]:
        ap.error(f"unknown modes {unknown}; known: {', '.join(MODES)}")
    out_dir = args.out or REPO / "benchmarks" / "results" / dt.date.today().isoformat()
    out_dir.mkdir(parents=True, exist_ok=True)

    samples = Samples()
    sources = SourceAddresses()
    with tempfile.TemporaryDirectory(prefix="proofing-load-") as tmp:
        work = Path(tmp)
        trust = work / "test-csca.der"
        trust.write_bytes(samples.profile.csca_der)  # the server trusts the demo's test PKI
        env = environment()
        if args.soak_min > 0:
            result: dict[str, Any] = {"schema": "proofing.bench.load-soak/1", "environment": env,
                      "soak": soak(args, samples, trust, work, sources)}
            from benchmarks.load.report import soak_markdown

            write(out_dir, "load_soak", result, soak_markdown(result))
            return 0 if result["soak"]["lost"] == 0 and result["soak"]["decided_twice"] == 0 else 1
        results = run_modes(modes, args, samples, trust, work, sources)
    result = {"schema": "proofing.bench.load/1", "environment": env,
              "settings": {k: v for k, v in vars(args).items() if k != "out"}, "modes": results}
    from benchmarks.load.report import markdown, plot

    png = plot(result, out_dir / "load.png")
    write(out_dir, "load", result, markdown(result, png))
    return 0


def write(out_dir: Path, stem: str, result: dict[str, Any], md: str) -> None:
    (out_dir / f"{stem}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (out_dir / f"{stem}.md").write_text(md)
    print(md)


if __name__ == "__main__":
    sys.exit(main())
