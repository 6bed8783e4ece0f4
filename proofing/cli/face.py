"""``proofing face``: compare two faces, evaluate a pair list, calibrate thresholds."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from proofing.cli.app import app, fail, print_json

if TYPE_CHECKING:
    from proofing.face.compare import FaceOptions
    from proofing.face.evaluate import PairScores
    from proofing.face.metrics import VerificationReport
    from proofing.face.policy import FacePolicy

face_app = typer.Typer(help="Face matching: compare, evaluate a labelled pair list, calibrate thresholds.")
app.add_typer(face_app, name="face")

_POLICY = typer.Option(None, "--policy", help="Face policy TOML (default: the packaged one).")
_VARIANTS = typer.Option(
    "", "--variants", help='Precision per model, e.g. "sface=int8,yunet_dynamic=fp32".'
)
_THREADS = typer.Option(1, "--threads", min=1, help="ONNX Runtime intra-op threads per model.")
_FLIP = typer.Option(
    None, "--flip/--no-flip", help="Also embed the mirrored crops (test-time augmentation); default: the package's."
)
_FAST = typer.Option(
    False, "--fast", help="SFace alone on the 640 px detection's landmarks (no refinement, no dlib fusion): the OpenCV Zoo recipe."
)
_FUSION = typer.Option(
    None, "--fusion/--no-fusion", help="Fuse dlib's ResNet with SFace (extra dlib); default: the settings'."
)


def _options(variants: str, threads: int, flip: bool | None, fast: bool, fusion: bool | None = None) -> FaceOptions:
    """--variants wins; otherwise the settings' per-model choice; otherwise fp32. The stage's
    configuration is PROOFING_FACE_MODE's (``--fast`` overrides it)."""
    from proofing.face.compare import FaceOptions
    from proofing.runtime.onnx import parse_variant_choice, variant_choice
    from proofing.settings import get_settings

    try:
        choice = parse_variant_choice(variants) if variants else variant_choice(get_settings())
    except ValueError as e:
        raise fail(str(e)) from None
    try:
        opts = FaceOptions.from_choice(choice, threads=threads, flip=flip, fast=fast, mode=get_settings().face_mode)
    except ValueError as e:
        raise fail(str(e)) from None
    if fusion is None:
        second = FaceOptions.from_settings().second_embedder
        return opts if fast else replace(opts, second_embedder=second)
    return replace(opts, second_embedder="dlib" if fusion else None)


def _policy(path: Path | None) -> FacePolicy:
    from proofing.face.policy import load_policy

    try:
        return load_policy(path)
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise fail(f"cannot read the face policy {path or '(packaged)'}: {e}") from None


@face_app.command("compare")
def compare(
    probe: Path = typer.Argument(..., help="Selfie / live capture."),
    reference: Path = typer.Argument(..., help="Chip DG2 portrait or the document page."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    policy: Path | None = _POLICY,
    variants: str = _VARIANTS,
    threads: int = _THREADS,
    flip: bool | None = _FLIP,
    fast: bool = _FAST,
    fusion: bool | None = _FUSION,
) -> None:
    """Similarity of the largest face in PROBE and in REFERENCE, decision, quality, timings."""
    from proofing.face.compare import compare_faces
    from proofing.liveness import landmarker
    from proofing.runtime import ModelError

    opts = _options(variants, threads, flip, fast, fusion)
    pol = _policy(policy)
    try:
        result = compare_faces(probe, reference, pol, opts)
    except ModelError as e:
        raise fail(str(e)) from None
    finally:
        landmarker.close()  # MediaPipe's own finaliser fails at interpreter exit
    if json_out:
        print_json(result.to_dict())
        return
    sim = "n/a" if result.similarity is None else f"{result.similarity:.4f}"
    typer.echo(f"decision    {result.decision}")
    typer.echo(f"similarity  {sim} (threshold {result.threshold:.4f} at {result.operating_point})")
    typer.echo(f"reasons     {', '.join(result.reason_codes) or '-'}")
    for side, fa in (("probe", result.probe), ("reference", result.reference)):
        steps = " ".join(f"{k}={v:.1f}ms" for k, v in fa.timings_ms.items())
        q = fa.quality
        qs = f"eyes {q.eye_distance_px:.0f}px sharp {q.sharpness:.0f} yaw {q.pose.yaw_deg:.0f}" if q else "-"
        typer.echo(f"{side:<11} faces={fa.faces_found} {qs} | {steps}")
    typer.echo(f"models      {result.models['detector']} {result.models['embedder']}")


def _score(
    pairs: Path,
    policy: Path | None,
    variants: str,
    threads: int,
    flip: bool | None,
    fast: bool,
    fusion: bool | None,
    quiet: bool,
) -> tuple[PairScores, VerificationReport]:
    from proofing.face.evaluate import score_pairs
    from proofing.face.metrics import verification_report
    from proofing.runtime import ModelError

    # Scores only: the landmarker adds quality codes, never a similarity.
    opts = replace(_options(variants, threads, flip, fast, fusion), landmarker=False)
    pol = _policy(policy)

    def progress(n: int, total: int) -> None:
        if not quiet and (n % 50 == 0 or n == total):
            typer.echo(f"  {n}/{total} images", err=True)

    try:
        scored = score_pairs(pairs, pol, opts, progress)
    except (OSError, ValueError) as e:
        raise fail(f"{pairs}: {e}") from None
    except ModelError as e:
        raise fail(str(e)) from None
    if len(scored.genuine) == 0 or len(scored.impostor) == 0:
        raise fail(f"{pairs}: needs both genuine (same=1) and impostor (same=0) pairs")
    return scored, verification_report(scored.genuine, scored.impostor)


@face_app.command("evaluate")
def evaluate(
    pairs: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV a,b,same."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON (with per-pair scores)."),
    policy: Path | None = _POLICY,
    variants: str = _VARIANTS,
    threads: int = _THREADS,
    flip: bool | None = _FLIP,
    fast: bool = _FAST,
    fusion: bool | None = _FUSION,
) -> None:
    """AUC, EER, FNMR at FMR 1e-2/1e-3/1e-4 and d' over a labelled pair list."""
    from proofing.face.compare import model_versions

    scored, report = _score(pairs, policy, variants, threads, flip, fast, fusion, json_out)
    opts = _options(variants, threads, flip, fast, fusion)
    if json_out:
        print_json(
            {
                "schema": "proofing.face.evaluate/1",
                "pairs_csv": str(pairs),
                "models": model_versions(opts),
                "report": report.to_dict(),
                "missed_faces": scored.missed,
                "pairs": [
                    {"a": p.a, "b": p.b, "same": p.same, "similarity": round(float(s), 5)}
                    for p, s in zip(scored.pairs, scored.scores, strict=True)
                ],
            }
        )
        return
    typer.echo(f"pairs        {report.genuine} genuine, {report.impostor} impostor")
    typer.echo(f"missed faces {len(scored.missed)} (scored as non-matches)")
    typer.echo(f"AUC          {report.auc:.4f}")
    typer.echo(f"EER          {report.eer * 100:.2f}% at {report.eer_threshold:.4f}")
    typer.echo(f"d'           {report.d_prime:.3f}")
    for p in report.operating_points:
        typer.echo(f"FMR {p.target_fmr:g}: FNMR {p.fnmr * 100:.2f}% at threshold {p.threshold:.4f}")
    for t in report.unreached_fmr:
        typer.echo(f"FMR {t:g}: not reached ({report.impostor} impostor pairs)")


def _describe(pairs: Path) -> str:
    """The pair list as recorded in the policy: relative to the shared data when it is there."""
    from proofing.settings import get_settings

    shared = get_settings().shared_data_dir
    resolved = pairs.resolve()
    for base in [b for b in (shared, Path.cwd()) if b is not None]:
        if resolved.is_relative_to(base.resolve()):
            return str(resolved.relative_to(base.resolve()))
    return str(resolved)


@face_app.command("calibrate")
def calibrate(
    pairs: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV a,b,same."),
    policy: Path | None = typer.Option(
        None, "--policy", help="Policy TOML to update (default: the packaged one)."
    ),
    operating_point: str | None = typer.Option(
        None, "--operating-point", help='Deciding point, e.g. "fmr_1e-3" (default: keep).'
    ),
    variants: str = _VARIANTS,
    threads: int = _THREADS,
    flip: bool | None = _FLIP,
    fast: bool = _FAST,
    fusion: bool | None = _FUSION,
) -> None:
    """Compute thresholds at FMR 1e-2/1e-3/1e-4 (as far as the data allows) into the policy file."""
    from proofing.face.calibrate import write_match_policy
    from proofing.face.compare import threshold_key
    from proofing.face.policy import DEFAULT_POLICY_PATH, policy_path

    target = policy or policy_path()  # the file of PROOFING_FACE_MODE's mode
    # A mode calibrated for the first time has no file yet: its quality limits are the default file's.
    _, report = _score(pairs, target if target.exists() else DEFAULT_POLICY_PATH, variants, threads, flip, fast, fusion, False)
    # A variant within its agreement budget is keyed as its fp32 source (it inherits thresholds).
    embedder = threshold_key(_options(variants, threads, flip, fast, fusion))
    try:
        if operating_point is None and not target.exists():  # a new mode decides where the default does
            operating_point = _policy(DEFAULT_POLICY_PATH).operating_point
        op = write_match_policy(target, report, embedder, _describe(pairs), operating_point)
    except ValueError as e:
        raise fail(str(e)) from None
    for p in report.operating_points:
        typer.echo(f"FMR {p.target_fmr:g}: threshold {p.threshold:.4f} (FNMR {p.fnmr * 100:.2f}%)")
    typer.echo(f"wrote {target} (deciding at {op})")
