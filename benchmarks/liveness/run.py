"""Liveness benchmark: ISO/IEC 30107-3 metrics, cues one by one, precisions, peer recipe.

    .venv/bin/python -m benchmarks.liveness.run [--variants fp32,fp16,int8-dynamic,int8]
        [--write-policy] [--out DIR] [--no-landmarker]

Data: $PROOFING_SHARED_DATA_DIR/pad (NUAA test split: 500 bona fide + 500 print frames in
bursts; Silent-Face: one print, one replay, one bona fide single frame). Writes
benchmarks/results/<date>/liveness.json, liveness.md and score-distribution PNGs.

Rows: each MiniFASNet alone, fused (the shipped pipeline: gating, trimmed mean), fused
with the temporal cues, fused with each cue alone, and the peer recipe (upstream: the two
models averaged at 0.5 on YuNet 2023mar faces, no gating, session = mean of frames).
``--write-policy`` writes the fused threshold at the policy's target frame BPCER into
proofing/policy/liveness.toml (chosen from bona fide scores only).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from proofing.face.detect import DetectOptions, detect_faces
from proofing.imaging import load_image
from proofing.liveness import landmarker
from proofing.liveness.burst import LivenessOptions, aggregate
from proofing.liveness.crops import pad_crop, to_tensor
from proofing.liveness.evaluate import Evaluation, evaluate_list, group
from proofing.liveness.metrics import auc, pad_report, threshold_at_bpcer
from proofing.liveness.pad import PadOptions, crop_scale, fuse, model_scores
from proofing.liveness.policy import DEFAULT_POLICY_PATH, LivenessPolicy, load_policy
from proofing.runtime.onnx import clear_sessions, get_session
from proofing.runtime.registry import ModelError, default_registry

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("PROOFING_SHARED_DATA_DIR") or REPO.parent / "shared" / "data")
MODELS_DIR = REPO.parent / "shared" / "models"
TEMPORAL_CUES = ("scale_stability", "nonrigid_motion", "blink")
SCREEN_CUES = ("screen_moire", "screen_specular", "screen_edges")
#: Sign that makes each cue's value "higher = more bona fide" for its AUC.
CUE_SIGN = {"scale_stability": -1.0, "nonrigid_motion": 1.0, "blink": 1.0,
            "screen_moire": -1.0, "screen_specular": -1.0, "screen_edges": -1.0}
PEER_THRESHOLD = 0.5  # the upstream recipe's own threshold (the peer row, not our policy)


def _pct(v: float | None) -> str:
    return "n/a" if v is None else f"{v * 100:.2f}%"


def _session_scores(ev: Evaluation, per_frame: dict[str, list[float | None]], policy: LivenessPolicy) -> list[float | None]:
    out: list[float | None] = []
    i = 0
    for _, rows in group(ev.rows):
        vals = [v for v in per_frame["v"][i : i + len(rows)] if v is not None]
        i += len(rows)
        out.append(aggregate(vals, policy) if vals else None)
    return out


def rows_for(ev: Evaluation, policy: LivenessPolicy, threshold: float) -> dict[str, Any]:
    """Metrics for every configuration at frame and session level."""
    items = ev.frame_items()
    labels = [i["label"] for i in items]
    s_labels = [lab for _, lab, _ in ev.sessions]
    out: dict[str, Any] = {}
    for model in policy.models:
        fs: list[float | None] = [i["model_scores"].get(model) for i in items]
        out[model] = {
            "frame": pad_report(labels, fs, threshold).to_dict(),
            "session": pad_report(s_labels, _session_scores(ev, {"v": fs}, policy), threshold).to_dict(),
        }
    out["fused"] = {"frame": ev.frame_report(threshold).to_dict(), "session": ev.session_report(threshold).to_dict()}

    def vetoed(names: Sequence[str]) -> list[float | None]:
        res = []
        for _, _, r in ev.sessions:
            fired = any(c.fired and c.value is not None for c in r.cues if c.name in names)
            res.append(None if r.pad_score is None else (min(r.pad_score, policy.veto_cap) if fired else r.pad_score))
        return res

    out["fused+temporal"] = {"session": pad_report(s_labels, vetoed(("scale_stability", "nonrigid_motion")), threshold).to_dict(),
                             "cues": ["scale_stability", "nonrigid_motion"]}
    for cue in (*TEMPORAL_CUES, *SCREEN_CUES):
        vals = {lab: [] for lab in set(s_labels)}  # type: dict[str, list[float]]
        for (_, lab, r) in ev.sessions:
            for c in r.cues:
                if c.name == cue and c.value is not None:
                    vals[lab].append(CUE_SIGN[cue] * c.value)
        bona = vals.get("bona_fide", [])
        attacks = [v for k, vs in vals.items() if k != "bona_fide" for v in vs]
        out[f"fused+{cue}"] = {
            "session": pad_report(s_labels, vetoed((cue,)), threshold).to_dict(),
            "value_quantiles_p1_p50_p99": {
                k: [round(float(q), 4) for q in np.percentile(CUE_SIGN[cue] * np.asarray(v), [1, 50, 99])]
                for k, v in vals.items()
                if v
            },
            "cue_auc_alone": auc(bona, attacks),
            "measured_sessions": {k: len(v) for k, v in vals.items()},
        }
    return out


def peer(list_csv: Path) -> dict[str, Any]:
    """Upstream recipe: YuNet 2023mar largest face, mean of the two softmax 'real' scores, 0.5."""
    det = DetectOptions(model="yunet")
    opts = PadOptions()
    rows = list(group(_rows(list_csv)))
    labels, scores, s_labels, s_scores, ms = [], [], [], [], []
    for _, members in rows:
        vals = []
        for r in members:
            img = load_image(list_csv.parent / r.path)
            t = time.perf_counter()
            faces = detect_faces(img, det)
            s = float(fuse(model_scores([img], [faces[0].box], opts), opts)[0]) if faces else None
            ms.append((time.perf_counter() - t) * 1000)
            labels.append(r.label)
            scores.append(s)
            if s is not None:
                vals.append(s)
        s_labels.append(members[0].label)
        s_scores.append(float(np.mean(vals)) if vals else None)
    return {
        "frame": pad_report(labels, scores, PEER_THRESHOLD).to_dict(),
        "session": pad_report(s_labels, s_scores, PEER_THRESHOLD).to_dict(),
        "ms_per_frame_with_detection": {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95))},
        "frame_scores": scores,
    }


def _rows(list_csv: Path) -> list[Any]:
    from proofing.liveness.evaluate import read_list

    return read_list(list_csv)


def _crops(ev: Evaluation, base: Path) -> list[tuple[str, str, dict[str, np.ndarray]]]:
    """(label, session, {model: uint8 crop}) for every judged frame, from the fp32 run's boxes."""
    out = []
    by_session = {sid: r for sid, _, r in ev.sessions}
    for sid, rows in group(ev.rows):
        res = by_session[sid]
        for row, fr in zip(rows, res.frames, strict=False):
            if fr.box is None or fr.score is None:
                continue
            img = load_image(base / row.path)
            if fr.rotation:
                from proofing.liveness.frames import rotate

                img = rotate(img, fr.rotation)
            out.append((row.label, sid, {m: pad_crop(img, fr.box, crop_scale(m)) for m in PadOptions().models}))
    return out


def ensure_variant(model: str, variant: str) -> str:
    """Build a PAD variant if absent (calibrated on CelebA faces, not on the PAD test data)."""
    from proofing.runtime.variants import build_variant, load_built_variant

    reg = default_registry()
    try:
        load_built_variant(model, variant, reg)
        return "cached"
    except ModelError:
        pass
    from proofing.face.calibration_data import list_images
    from proofing.liveness.pad import model_inputs

    images = list_images(SHARED / "faces" / "celeba" / "images")
    calib = model_inputs(model, [load_image(p) for p in images[0::4][:64]]) if variant == "int8" else []
    hold = model_inputs(model, [load_image(p) for p in images[1::4][:48]])
    src = {"folder": "faces/celeba/images", "every": "4th from 0", "count": len(calib)}
    rec = build_variant(model, variant, reg, calib, hold, src if variant == "int8" else None, min_cosine=0.99)
    return f"built sha256 {rec.sha256[:16]} cos min {rec.measured.get('cos_to_fp32_min')}"


def precisions(crops: list[tuple[str, str, dict[str, np.ndarray]]], variants: Sequence[str], policy: LivenessPolicy, threshold: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    labels = [c[0] for c in crops]
    ref: np.ndarray | None = None
    for variant in variants:
        info = {}
        try:
            for m in policy.models:
                info[m] = ensure_variant(m, variant) if variant != "fp32" else "manifest"
        except (ModelError, ValueError, OSError) as e:
            out[variant] = {"error": str(e)}
            continue
        clear_sessions()
        sessions = [get_session(m, variant, 1) for m in policy.models]
        opts = PadOptions(models=policy.models, weights=policy.weights, variant=variant)
        ms, fused = [], []
        for _, _, c in crops:
            t = time.perf_counter()
            probs = []
            for s in sessions:
                logits = s.run(to_tensor([c[s.name]]))[0].reshape(-1)
                ex = np.exp(logits - logits.max())
                probs.append(ex[1] / ex.sum())
            ms.append((time.perf_counter() - t) * 1000)
            fused.append(float(fuse(np.array([probs]), opts)[0]))
        f = np.array(fused)
        if ref is None:
            ref = f
        sess: dict[str, list[float]] = {}
        slab: dict[str, str] = {}
        for (lab, sid, _), v in zip(crops, fused, strict=True):
            sess.setdefault(sid, []).append(v)
            slab[sid] = lab
        out[variant] = {
            "build": info,
            "versions": [s.version for s in sessions],
            "ms_two_models_1_thread": {"p50": float(np.percentile(ms, 50)), "p95": float(np.percentile(ms, 95))},
            "max_abs_diff_to_fp32": float(np.abs(f - ref).max()),
            "frame": pad_report(labels, list(f), threshold).to_dict(),
            "session": pad_report(list(slab.values()), [aggregate(v, policy) for v in sess.values()], threshold).to_dict(),
        }
    clear_sessions()
    return out


def plots(out: Path, ev: Evaluation, name: str, threshold: float) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files = []
    items = ev.frame_items()
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    for ax, key in zip(axes, ("minifasnet_v2", "minifasnet_v1se", "fused"), strict=True):
        for lab in sorted({i["label"] for i in items}):
            v = [i["score"] if key == "fused" else i["model_scores"].get(key) for i in items if i["label"] == lab]
            v = [x for x in v if x is not None]
            ax.hist(v, bins=40, range=(0, 1), alpha=0.6, label=f"{lab} ({len(v)})")
        ax.axvline(threshold, color="k", ls="--", lw=1)
        ax.set_title(f"{name} frames: {key}")
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    fig.tight_layout()
    p = out / f"liveness_{name}_frame_scores.png"
    fig.savefig(p, dpi=90)
    plt.close(fig)
    files.append(p.name)
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for lab in sorted({lab for _, lab, _ in ev.sessions}):
        v = [r.pad_score for _, la, r in ev.sessions if la == lab and r.pad_score is not None]
        ax.hist(v, bins=40, range=(0, 1), alpha=0.6, label=f"{lab} ({len(v)})")
    ax.axvline(threshold, color="k", ls="--", lw=1)
    ax.set_title(f"{name} sessions: fused trimmed mean")
    ax.legend(fontsize=8)
    fig.tight_layout()
    p = out / f"liveness_{name}_session_scores.png"
    fig.savefig(p, dpi=90)
    plt.close(fig)
    files.append(p.name)
    return files


def write_threshold(policy_path: Path, threshold: float, source: dict[str, Any]) -> None:
    text = policy_path.read_text()
    text = re.sub(r"(?m)^threshold = .*$", f"threshold = {threshold:.6f}", text, count=1)
    table = "[decision.calibration]\n" + "".join(
        f"{k} = {json.dumps(v)}\n" for k, v in source.items()
    )
    text = re.sub(r"(?ms)^\[decision\.calibration\]\n.*?(?=^\n|\Z)", table, text, count=1)
    policy_path.write_text(text)


def _ms_stats(ev: Evaluation) -> dict[str, Any]:
    steps: dict[str, list[float]] = {}
    for _, _, r in ev.sessions:
        for f in r.frames:
            for k, v in f.timings_ms.items():
                steps.setdefault(k, []).append(v)
    return {k: {"p50": float(np.percentile(v, 50)), "p95": float(np.percentile(v, 95)), "n": len(v)} for k, v in steps.items()}


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default="fp32,fp16,int8-dynamic,int8")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--write-policy", action="store_true")
    ap.add_argument("--no-landmarker", action="store_true")
    ap.add_argument("--no-peer", action="store_true")
    args = ap.parse_args(argv)
    if MODELS_DIR.is_dir():
        os.environ.setdefault("PROOFING_MODELS_DIR", str(MODELS_DIR))
    out = args.out or REPO / "benchmarks" / "results" / dt.date.today().isoformat()
    out.mkdir(parents=True, exist_ok=True)
    policy = load_policy()
    opts = LivenessOptions(landmarker=False if args.no_landmarker else None)
    lists = {"nuaa": SHARED / "pad" / "nuaa" / "list.csv", "silent_face": SHARED / "pad" / "silent_face" / "list.csv"}
    evs = {}
    for name, path in lists.items():
        t = time.perf_counter()
        evs[name] = evaluate_list(path, policy, opts)
        print(f"{name}: {len(evs[name].sessions)} sessions in {time.perf_counter() - t:.0f}s", flush=True)
    used_landmarker = not args.no_landmarker and landmarker.available()
    landmarker.close()
    nuaa_bona = [i["score"] for i in evs["nuaa"].frame_items() if i["label"] == "bona_fide" and i["score"] is not None]
    chosen = threshold_at_bpcer(nuaa_bona, policy.target_frame_bpcer)
    threshold = chosen if args.write_policy else policy.threshold
    report: dict[str, Any] = {
        "schema": "proofing.benchmark.liveness/1",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {"platform": platform.platform(), "processor": platform.processor(), "cpus": os.cpu_count()},
        "threshold": threshold,
        "threshold_at_target_frame_bpcer": chosen,
        "target_frame_bpcer": policy.target_frame_bpcer,
        "landmarker": used_landmarker,
        "sets": {},
    }
    for name, ev in evs.items():
        entry: dict[str, Any] = {"configs": rows_for(ev, policy, threshold), "timings_ms": _ms_stats(ev)}
        entry["sessions"] = [
            {"session": sid, "label": lab, "verdict": "BONA_FIDE" if (r.pad_score or -1) >= threshold else r.verdict,
             "pad_score": r.pad_score, "codes": list(r.reason_codes), "observations": list(r.observations),
             "cues": {c.name: c.value for c in r.cues}}
            for sid, lab, r in ev.sessions
        ]
        if not args.no_peer:
            pr = peer(lists[name])
            pr.pop("frame_scores")
            entry["peer"] = pr
        entry["plots"] = plots(out, ev, name, threshold)
        report["sets"][name] = entry
    crops = _crops(evs["nuaa"], lists["nuaa"].parent)
    report["precisions"] = precisions(crops, [v for v in args.variants.split(",") if v], policy, threshold)
    if args.write_policy:
        rep = pad_report([i["label"] for i in evs["nuaa"].frame_items()], [i["score"] for i in evs["nuaa"].frame_items()], chosen)
        write_threshold(DEFAULT_POLICY_PATH, chosen, {
            "source": "benchmarks/liveness/run.py --write-policy",
            "list": "pad/nuaa/list.csv",
            "date": report["date"],
            "rule": f"fused frame score at BPCER {policy.target_frame_bpcer} (bona fide scores only)",
            "bona_fide_frames": len(nuaa_bona),
            "frame_apcer": round(rep.apcer, 5),
            "frame_bpcer": round(rep.bpcer, 5),
        })
    (out / "liveness.json").write_text(json.dumps(report, indent=2, default=float) + "\n")
    (out / "liveness.md").write_text(markdown(report))
    print(f"wrote {out / 'liveness.json'} and liveness.md")


def markdown(rep: dict[str, Any]) -> str:
    lines = [
        "# Liveness (PAD) benchmark — ISO/IEC 30107-3",
        "",
        f"{rep['date']} · {rep['machine']['platform']} · {rep['machine']['cpus']} CPUs · "
        f"threshold {rep['threshold']:.4f} (fused frame score at BPCER {rep['target_frame_bpcer']:g} on NUAA: "
        f"{rep['threshold_at_target_frame_bpcer']:.4f}) · MediaPipe landmarker: {rep['landmarker']}",
        "",
        "Scores = probability of a bona fide face; APCER = worst attack type. Unjudged "
        "presentations (no usable frame) count as rejected.",
        "",
    ]
    for name, entry in rep["sets"].items():
        lines += [f"## {name}", "", "| config | level | APCER | per type | BPCER | ACER | BPCER@APCER5% | APCER@BPCER5% | cue AUC alone |",
                  "|---|---|---|---|---|---|---|---|---|"]
        configs = dict(entry["configs"])
        if "peer" in entry:
            configs["peer (upstream recipe @0.5)"] = entry["peer"]
        for cfg, levels in configs.items():
            for level in ("frame", "session"):
                r = levels.get(level)
                if not r:
                    continue
                per = ", ".join(f"{k} {_pct(v)}" for k, v in r["apcer_per_species"].items())
                cue_auc = levels.get("cue_auc_alone")
                cue_s = "" if cue_auc is None else ("n/a" if cue_auc != cue_auc else f"{cue_auc:.3f}")
                lines.append(f"| {cfg} | {level} | {_pct(r['apcer'])} | {per} | {_pct(r['bpcer'])} | {_pct(r['acer'])} | "
                             f"{_pct(r['bpcer_at_apcer_5'])} | {_pct(r['apcer_at_bpcer_5'])} | {cue_s} |")
        t = entry["timings_ms"]
        lines += ["", "Per-frame time (ms, p50/p95): " + ", ".join(f"{k} {v['p50']:.1f}/{v['p95']:.1f}" for k, v in t.items())]
        if "peer" in entry:
            p = entry["peer"]["ms_per_frame_with_detection"]
            lines.append(f"Peer per frame with detection: {p['p50']:.1f}/{p['p95']:.1f} ms")
        cue_rows = [(k[len("fused+"):], v) for k, v in entry["configs"].items() if "value_quantiles_p1_p50_p99" in v]
        if cue_rows:
            lines += ["", "Cue values per class (session level, p1 / p50 / p99):", ""]
            lines += [f"- {cue}: " + "; ".join(f"{k} {q}" for k, q in v["value_quantiles_p1_p50_p99"].items()) for cue, v in cue_rows]
        if name == "silent_face" and entry.get("sessions"):
            lines += ["", "| sample | label | pad score | verdict | observations |", "|---|---|---|---|---|"]
            for s in entry["sessions"]:
                ps = "n/a" if s["pad_score"] is None else f"{s['pad_score']:.4f}"
                lines.append(f"| {s['session']} | {s['label']} | {ps} | {s['verdict']} | {', '.join(s['observations'])} |")
        lines += [""] + [f"![{p}]({p})" for p in entry["plots"]] + [""]
    lines += ["## Precisions (NUAA frames, the two models, one thread)", "",
              "| variant | p50 ms | p95 ms | max abs diff to fp32 | frame APCER | frame BPCER | session APCER | session BPCER |",
              "|---|---|---|---|---|---|---|---|"]
    for v, r in rep["precisions"].items():
        if "error" in r:
            lines.append(f"| {v} | error: {r['error']} |||||||")
            continue
        m = r["ms_two_models_1_thread"]
        lines.append(f"| {v} | {m['p50']:.2f} | {m['p95']:.2f} | {r['max_abs_diff_to_fp32']:.4f} | {_pct(r['frame']['apcer'])} | "
                     f"{_pct(r['frame']['bpcer'])} | {_pct(r['session']['apcer'])} | {_pct(r['session']['bpcer'])} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
