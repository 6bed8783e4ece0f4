"""Markdown tables and a PNG figure from the benchmark summary (see run.py for its shape)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

_LABEL = {"ours": "ours", "ours_tess": "ours (tesseract only)", "ours_eng": "ours (lang=eng)", "passporteye": "PassportEye",
          "ours_pp": "ours + PP-OCR (doubtful)", "ours_pp_always": "ours + PP-OCR (always)"}


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _sec(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def markdown(summary: dict[str, Any]) -> str:
    engines: list[str] = summary["engines"]
    cfg = summary["config"]
    out = [
        f"# MRZ benchmark ({cfg['date']})",
        "",
        f"Machine: {cfg['machine']}; tesseract {cfg['tesseract']}; PassportEye "
        f"{cfg['passporteye']}. Synthetic: {cfg['synthetic']} images, seed {cfg['seed']}. "
        "Engines run interleaved on the same files (order rotated per image).",
        "",
    ]
    g = cfg.get("glyph_model")
    if g:
        held = g.get("heldout", {})
        out += [f"Glyph classifier (`proofing models train-glyphs`, sha256 {g['sha256'][:16]}): trained on "
                f"{g['corpus']['images']} synthetic captures of seed {g['corpus']['seed']}; held-out cells "
                f"{held.get('cells', '?')}: {held.get('accuracy', '?')} correct (tesseract "
                f"{held.get('tesseract_accuracy', '?')}). 'ours' uses it, 'ours (tesseract only)' does not.", ""]
    elif "glyph_model" in cfg:
        out += ["Glyph classifier not built here: 'ours' is tesseract only.", ""]
    for name, why in summary.get("unavailable", {}).items():
        out.append(f"- **{_LABEL.get(name, name)} not run**: {why}")
    if summary.get("unavailable"):
        out.append("")
    header = "| set | engine | n | exact match | CER | check digits valid | found | median s | p95 s | median vs PassportEye |"
    out += ["## Headline", "", header, "|" + "---|" * 10]
    for set_name, per_engine in summary["overall"].items():
        for e in engines:
            s = per_engine.get(e)
            if s is None:
                continue
            ratio = summary["time_ratio"].get(set_name, {}).get(e)
            out.append(
                f"| {set_name} | {_LABEL.get(e, e)} | {s['n']} | {_pct(s['exact_match'])} | "
                f"{_pct(s['cer'])} | {_pct(s['check_digits_valid'])} | {_pct(s['found'])} | "
                f"{_sec(s['median_s'])} | {_sec(s['p95_s'])} | "
                f"{'(reference)' if e == 'passporteye' else '-' if ratio is None else f'{ratio:.2f}x'} |"
            )
    docs = {e: d for e, d in summary.get("shared_per_document", {}).items() if d}
    if docs:
        out += ["", "Shared specimens with each distinct MRZ counted once (the Utopia specimen "
                "appears in several images):", "",
                "| engine | documents | exact match | CER |", "|---|---|---|---|"]
        for e in engines:
            d = docs.get(e)
            if d:
                out.append(f"| {_LABEL.get(e, e)} | {d['documents']} | {_pct(d['exact_match'])} | "
                           f"{_pct(d['cer'])} |")
    neg = summary.get("negatives", {})
    if neg:
        out += ["", "Images without an MRZ where an engine still returned lines: "
                + ", ".join(f"{_LABEL.get(e, e)} {v['false_reads']}/{v['n']}" for e, v in neg.items())]
    for title, key in (("By document type", "by_doc_type"), ("By degradation (synthetic)", "by_degradation")):
        table = summary.get(key, {})
        if not table:
            continue
        cols = " | ".join(f"{_LABEL.get(e, e)} exact / CER" for e in engines)
        out += ["", f"## {title}", "", f"| set | group | n | {cols} |",
                "|" + "---|" * (3 + len(engines))]
        for set_name, groups in table.items():
            for group, per_engine in groups.items():
                n = next((s["n"] for s in per_engine.values() if s), 0)
                cells = " | ".join(
                    f"{_pct(per_engine[e]['exact_match'])} / {_pct(per_engine[e]['cer'])}"
                    if per_engine.get(e) else "-" for e in engines
                )
                out.append(f"| {set_name} | {group} | {n} | {cells} |")
    out += [
        "",
        "Exact match: every line equal to the ground truth. CER: Levenshtein edits over the "
        "newline-joined lines / ground-truth characters (a missed MRZ costs all its characters). "
        "Check digits valid: the lines returned parse and every check digit holds. "
        "Times are wall seconds per image, decoding included. Degradation rows overlap: an "
        "image counts under every degradation applied to it.",
        "",
    ]
    return "\n".join(out)


def plot(summary: dict[str, Any], times: dict[str, list[float]], path: Path) -> None:
    """Left: per-image time distribution per engine; right: exact match by degradation."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    engines = [e for e in summary["engines"] if times.get(e)]
    fig, (ax_t, ax_d) = plt.subplots(1, 2, figsize=(14, 5), gridspec_kw={"width_ratios": [1, 2]})
    if engines:
        ax_t.boxplot([times[e] for e in engines], showfliers=True)
        ax_t.set_xticks(range(1, len(engines) + 1), [_LABEL.get(e, e) for e in engines])
        ax_t.set_yscale("log")
    ax_t.set_ylabel("seconds per image (log)")
    ax_t.set_title("Wall time per image (all images)")
    groups = summary.get("by_degradation", {}).get("synthetic", {})
    names = list(groups)
    width = 0.8 / max(1, len(engines))
    for k, e in enumerate(engines):
        vals = [100 * (groups[g].get(e) or {}).get("exact_match", 0.0) for g in names]
        ax_d.bar([i + k * width for i in range(len(names))], vals, width, label=_LABEL.get(e, e))
    ax_d.set_xticks([i + width * (len(engines) - 1) / 2 for i in range(len(names))], names,
                    rotation=30, ha="right")
    ax_d.set_ylabel("exact match %")
    ax_d.set_ylim(0, 115)  # headroom for the legend
    ax_d.set_yticks(range(0, 101, 20))
    ax_d.set_title("Synthetic: exact match by degradation")
    ax_d.legend(loc="upper center", ncol=max(1, len(engines)), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
