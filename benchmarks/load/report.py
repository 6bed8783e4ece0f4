"""Markdown and the PNG of the load benchmark (kept apart from the measuring)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

STAGE_ORDER = ("decode+other", "mrz", "chip", "mrz_chip", "liveness", "face_chip", "face_page", "decide")
LABELS = {"inprocess": "in-process (server thread)", "celery1": "1 Celery worker", "celery2": "2 Celery workers"}


def _f(v: Any, nd: int = 2) -> str:
    return "–" if v is None else f"{v:.{nd}f}"


def _ms(v: Any) -> str:
    return "–" if v is None else f"{1000 * v:.0f}"


def markdown(result: dict[str, Any], png: Path | None) -> str:
    env, st = result["environment"], result["settings"]
    lines = [
        "# Load: whole applicant sessions through `proofing serve`",
        "",
        f"{env['date']}, {env['cpus']} CPUs, load average at start {', '.join(f'{x:.1f}' for x in env['loadavg_at_start'])} "
        "(the machine is shared: other benchmarks may run at the same time, so every mode's stack is up at "
        f"once and the phases run in {st.get('rounds', 1)} round(s), mode after mode). PostgreSQL store, Redis broker, "
        "everything on loopback. Each session: 5 document frames + the chip files (+ AA signature over the "
        "server's challenge) + 8 selfie frames, uploaded over HTTP, then submit and poll every "
        f"{st['poll']} s until decided.",
        "",
        "Reproduce: `.venv/bin/python -m benchmarks.load.run"
        + (" --quick" if st.get("quick") else "") + f" --modes {st['modes']}`.",
        "",
        "## Throughput (closed loop)",
        "",
        "| mode | applicants in flight | sessions | sessions/s | e2e p50 s | e2e p95 s | e2e p99 s | "
        "submit→decided p50 s | errors | peak RSS MB (server + workers) | machine load avg during |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in result["modes"]:
        t = m["throughput"]
        lines.append(f"| {LABELS.get(m['mode'], m['mode'])} | {t['concurrency']} | {t['decided']}/{t['sessions']} | "
                     f"{_f(t['sessions_per_s'], 3)} | {_f(t['e2e_s']['p50'])} | {_f(t['e2e_s']['p95'])} | "
                     f"{_f(t['e2e_s']['p99'])} | {_f(t['server_submit_to_decided_s']['p50'])} | "
                     f"{t['errors']} ({_f(100 * (t['error_rate'] or 0), 1)} %) | {t['peak_rss_mb']:.0f} | "
                     f"{_f(t['loadavg_1min']['min'], 1)}–{_f(t['loadavg_1min']['max'], 1)} |")
    lines += [
        "",
        "## One applicant at a time (no queueing): where the server's time goes",
        "",
        "Server side = the submit request's commit to the decision's commit (queue pick-up, lease, pipeline, "
        "filing the case with its encrypted evidence). Pipeline = `run_session`'s own total; stages are its "
        "per-stage timings from the session summary (p50, ms); decode+other = the pipeline total less its "
        "stages (decoding every frame once, before the first stage).",
        "",
        "| mode | sessions | e2e p50 s | upload p50 s | server p50 s | server p95 s | pipeline p50 s | "
        + " | ".join(STAGE_ORDER) + " |",
        "|---|---|---|---|---|---|---|" + "---|" * len(STAGE_ORDER),
    ]
    for m in result["modes"]:
        lat = m["latency"]
        stages = " | ".join(_ms(lat["stages_s"][s]["p50"]) for s in STAGE_ORDER)
        lines.append(f"| {LABELS.get(m['mode'], m['mode'])} | {lat['decided']} | {_f(lat['e2e_s']['p50'])} | "
                     f"{_f(lat['upload_s']['p50'])} | {_f(lat['server_submit_to_decided_s']['p50'])} | "
                     f"{_f(lat['server_submit_to_decided_s']['p95'])} | {_f(lat['server_pipeline_s']['p50'])} | "
                     f"{stages} |")
    decisions = {m["mode"]: m["latency"]["decisions"] for m in result["modes"]}
    lines += ["", f"Decisions (latency phase): {decisions}.", ""]
    errs = [e for m in result["modes"] for ph in ("latency", "throughput") for e in m[ph]["error_samples"]]
    if errs:
        lines += ["Errors seen:", "", *[f"- `{e}`" for e in sorted(set(errs))[:10]], ""]
    sc = next((m["scaling"] for m in result["modes"] if "scaling" in m), None)
    if sc:
        lines += [
            "## How the cost grows (1 worker, one session at a time, "
            f"{sc['sessions_per_point']} session(s) per point)",
            "",
            "| document + selfie frames | pipeline p50 s | server p50 s | " + " | ".join(STAGE_ORDER) + " (ms) |",
            "|---|---|---|" + "---|" * len(STAGE_ORDER),
        ]
        for p in sc["frames"]:
            lines.append(f"| {p['document_frames']} + {p['selfie_frames']} | {_f(p['pipeline_p50_s'])} | "
                         f"{_f(p['server_p50_s'])} | "
                         + " | ".join(_ms(p["stages_p50_s"].get(s)) for s in STAGE_ORDER) + " |")
        lines += [
            "",
            "| image scale (5 + 8 frames) | Mpx page + selfie | upload MB | pipeline p50 s | server p50 s | "
            + " | ".join(STAGE_ORDER) + " (ms) |",
            "|---|---|---|---|---|" + "---|" * len(STAGE_ORDER),
        ]
        for p in sc["image_size"]:
            lines.append(f"| {p['scale']}× | {p['megapixels_page_plus_selfie']:.2f} | {p['upload_mb']:.1f} | "
                         f"{_f(p['pipeline_p50_s'])} | {_f(p['server_p50_s'])} | "
                         + " | ".join(_ms(p["stages_p50_s"].get(s)) for s in STAGE_ORDER) + " |")
        lines.append("")
    if png is not None:
        lines += [f"![load]({png.name})", ""]
    lines += [
        "Notes: percentiles over tens of sessions are coarse (p99 is close to the maximum). Peak RSS sums "
        "the resident memory of the server's and the workers' process trees (pages shared between processes "
        "are counted once per process). Targets from issue 8: server-side time of a whole session p50 <= 1 s "
        "on one worker; throughput growing with the second worker.",
        "",
    ]
    return "\n".join(lines)


def plot(result: dict[str, Any], path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    sc = next((m["scaling"] for m in result["modes"] if "scaling" in m), None)
    fig, axes = plt.subplots(1, 3 if sc else 1, figsize=(16 if sc else 6, 4.6), squeeze=False)
    ax = axes[0][0]
    modes = result["modes"]
    names = [LABELS.get(m["mode"], m["mode"]) for m in modes]
    rates = [m["throughput"]["sessions_per_s"] or 0 for m in modes]
    bars = ax.bar(names, rates, color="#4477aa")
    ax.bar_label(bars, fmt="%.3f")
    ax.set_ylabel("sessions / s")
    ax.set_title("Throughput, whole sessions over HTTP")
    ax.tick_params(axis="x", labelsize=8)
    if sc:
        colors = ["#999999", "#4477aa", "#66ccee", "#228833", "#ccbb44", "#ee6677", "#aa3377", "#bbbbbb"]

        def stacked(ax: Any, xs: list[float], points: list[dict[str, Any]], xlabel: str) -> None:
            bottom = [0.0] * len(xs)
            gaps = [b - a for a, b in zip(sorted(xs), sorted(xs)[1:], strict=False) if b > a]
            width = 0.7 * min(gaps) if gaps else 0.5
            for s, c in zip(STAGE_ORDER, colors, strict=False):
                vals = [(p["stages_p50_s"].get(s) or 0.0) for p in points]
                ax.bar(xs, vals, width, bottom=bottom, label=s, color=c)
                bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
            ax.plot(xs, [p["server_p50_s"] or 0 for p in points], "k.-", label="server submit→decided")
            ax.set_xlabel(xlabel)
            ax.set_ylabel("seconds (p50)")

        fx = [float(p["document_frames"] + p["selfie_frames"]) for p in sc["frames"]]
        stacked(axes[0][1], fx, sc["frames"], "frames per session (document + selfie)")
        axes[0][1].set_title("Cost vs frames per session")
        sx = [float(p["megapixels_page_plus_selfie"]) for p in sc["image_size"]]
        stacked(axes[0][2], sx, sc["image_size"], "megapixels (one page + one selfie frame)")
        axes[0][2].set_title("Cost vs image size (5 + 8 frames)")
        handles, labels = axes[0][2].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)
        fig.tight_layout(rect=(0, 0.07, 1, 1))
    else:
        fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def soak_markdown(result: dict[str, Any]) -> str:
    s, env = result["soak"], result["environment"]
    ok = s["lost"] == 0 and s["decided_twice"] == 0
    return "\n".join([
        "# Soak: load while a worker is killed every minute",
        "",
        f"{env['date']}, {env['cpus']} CPUs. Two worker processes (one session at a time each), "
        f"{s['concurrency']} applicants in flight for {s['minutes']} min; every {s['kill_every_s']:.0f} s one worker "
        f"gets SIGKILL (main process and pool child) and a fresh one is started. Processing lease "
        f"{s['lease_s']:.0f} s, Redis redelivery after {s['visibility_timeout_s']} s.",
        "",
        f"Reproduce: `.venv/bin/python -m benchmarks.load.run --soak-min {s['minutes']:g} --kill-every {s['kill_every_s']:g}`.",
        "",
        "| kills | sessions submitted | decided | **lost** | **decided twice** | taken over after a kill | "
        "cases filed | applicant errors | sessions/s | e2e p50 s | e2e p99 s | peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {len(s['kills'])} | {s['submitted']} | {s['decided']} | **{s['lost']}** | **{s['decided_twice']}** | "
        f"{s['taken_over']} | {s['cases_total']} | {s['errors']} | {_f(s['sessions_per_s'], 3)} | "
        f"{_f(s['e2e_s']['p50'])} | {_f(s['e2e_s']['p99'])} | {s['peak_rss_mb']:.0f} |",
        "",
        ("No session lost, none decided twice." if ok else
         f"FAILED: lost {s['lost_ids']}, decided twice {s['decided_twice_ids']}."),
        "",
        "Lost = submitted (202) but not decided after the load stopped and a drain of lease + redelivery + "
        "120 s; decided twice = more than one case filed for a session. Applicant errors are sessions the "
        "client saw fail (e.g. not decided within its wait), counted separately from lost.",
        "",
        *([f"Errors seen: {', '.join(f'`{e}`' for e in s['error_samples'])}", ""] if s["error_samples"] else []),
    ])
