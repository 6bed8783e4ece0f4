"""``proofing liveness``: judge a burst (``check FILES...``) or a labelled list (``evaluate``).

Two subcommands rather than a command that takes files *and* has a subcommand: with
typer/click a callback taking paths would swallow the word ``evaluate`` as a path.
"""

from __future__ import annotations

from pathlib import Path

import typer

from proofing.cli.app import app, fail, print_json

liveness_app = typer.Typer(help="Passive liveness (PAD): check a burst of frames or a video; evaluate a list.")
app.add_typer(liveness_app, name="liveness")

_POLICY = typer.Option(None, "--policy", help="Liveness policy TOML (default: the packaged one).")
_VARIANT = typer.Option("fp32", "--variant", help="PAD model precision: fp32, fp16, int8-dynamic, int8.")
_THREADS = typer.Option(1, "--threads", min=1, help="ONNX Runtime intra-op threads per model.")
_NO_LMK = typer.Option(False, "--no-landmarker", help="Skip MediaPipe (blinks, dense landmarks).")


@liveness_app.command("check")
def check(
    files: list[Path] = typer.Argument(..., help="Frames of one burst (images) and/or videos."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON (schema proofing.liveness/1)."),
    policy: Path | None = _POLICY,
    variant: str = _VARIANT,
    threads: int = _THREADS,
    no_landmarker: bool = _NO_LMK,
    challenge: str = typer.Option("", "--challenge", help='Active challenge, e.g. "blink,turn_left".'),
) -> None:
    """Per-frame scores, session score, verdict at the policy threshold, reason codes, timings."""
    from proofing.liveness import landmarker
    from proofing.liveness.burst import LivenessOptions, check_liveness
    from proofing.liveness.challenge import check_challenge
    from proofing.liveness.inputs import read_inputs
    from proofing.liveness.policy import load_policy
    from proofing.runtime import ModelError

    try:
        pol = load_policy(policy)
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise fail(f"cannot read the liveness policy {policy or '(packaged)'}: {e}") from None
    frames, bad = read_inputs(list(files), int(pol.video["max_frames"]), float(pol.video["max_seconds"]))
    opts = LivenessOptions(variant=variant, threads=threads, landmarker=False if no_landmarker else None)
    try:
        result = check_liveness(frames if not bad else [], pol, opts)
        steps = [s.strip() for s in challenge.split(",") if s.strip()]
        chal = check_challenge(result, steps, pol) if steps else None
    except ModelError as e:
        raise fail(str(e)) from None
    except ValueError as e:
        raise fail(str(e)) from None
    finally:
        landmarker.close()
    if bad:
        from dataclasses import replace

        result = replace(result, reason_codes=tuple(dict.fromkeys(bad)))
    payload = result.to_dict()
    if chal is not None:
        payload["challenge"] = chal.to_dict()
    if json_out:
        print_json(payload)
        return
    score = "n/a" if result.score is None else f"{result.score:.4f}"
    typer.echo(f"verdict     {result.verdict}")
    typer.echo(f"score       {score} (threshold {result.threshold:.4f})")
    typer.echo(f"reasons     {', '.join(result.reason_codes) or '-'}")
    typer.echo(f"observed    {', '.join(result.observations) or '-'}")
    for f in result.frames:
        s = "  -   " if f.score is None else f"{f.score:.4f}"
        typer.echo(f"frame {f.index:<3} {s} {f.timings_ms.get('total', 0.0):6.1f} ms {' '.join(f.codes)}")
    if chal is not None:
        typer.echo(f"challenge   {'passed' if chal.passed else 'failed'} {' '.join(chal.reason_codes)}")


@liveness_app.command("evaluate")
def evaluate(
    list_csv: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV path,label,session."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON with per-item scores."),
    policy: Path | None = _POLICY,
    variant: str = _VARIANT,
    threads: int = _THREADS,
    no_landmarker: bool = _NO_LMK,
) -> None:
    """ISO/IEC 30107-3 metrics (APCER per attack type, BPCER, ACER, 5% points) per frame and per session."""
    from proofing.liveness import landmarker
    from proofing.liveness.burst import LivenessOptions
    from proofing.liveness.evaluate import evaluate_list
    from proofing.liveness.policy import load_policy
    from proofing.runtime import ModelError

    try:
        pol = load_policy(policy)
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise fail(f"cannot read the liveness policy {policy or '(packaged)'}: {e}") from None
    opts = LivenessOptions(variant=variant, threads=threads, landmarker=False if no_landmarker else None)

    def progress(n: int, total: int) -> None:
        if not json_out and (n % 20 == 0 or n == total):
            typer.echo(f"  {n}/{total} sessions", err=True)

    try:
        ev = evaluate_list(list_csv, pol, opts, progress)
    except (OSError, ValueError) as e:
        raise fail(f"{list_csv}: {e}") from None
    except ModelError as e:
        raise fail(str(e)) from None
    finally:
        landmarker.close()
    frame, session = ev.frame_report(pol.threshold), ev.session_report(pol.threshold)
    if json_out:
        print_json(
            {
                "schema": "proofing.liveness.evaluate/1",
                "list": str(list_csv),
                "threshold": pol.threshold,
                "frame": frame.to_dict(),
                "session": session.to_dict(),
                "items": ev.frame_items(),
                "sessions": [
                    {"session": sid, "label": lab, "verdict": r.verdict, "score": r.score, "reason_codes": list(r.reason_codes)}
                    for sid, lab, r in ev.sessions
                ],
            }
        )
        return
    for name, rep in (("frame", frame), ("session", session)):
        per = " ".join(f"{k}={v * 100:.2f}%" for k, v in rep.apcer_per_species.items())
        typer.echo(
            f"{name:<8} bona fide {rep.bona_fide} attacks {sum(rep.attacks.values())}: APCER {rep.apcer * 100:.2f}% ({per}) "
            f"BPCER {rep.bpcer * 100:.2f}% ACER {rep.acer * 100:.2f}%"
        )
        b5 = "n/a" if rep.bpcer_at_apcer_5 is None else f"{rep.bpcer_at_apcer_5 * 100:.2f}%"
        a5 = "n/a" if rep.apcer_at_bpcer_5 is None else f"{rep.apcer_at_bpcer_5 * 100:.2f}%"
        typer.echo(f"         BPCER@APCER=5% {b5}  APCER@BPCER=5% {a5}  unjudged {rep.unjudged}")
