"""``proofing demo``: a whole proofing session on samples any fresh install can make."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from proofing.cli.app import app


def _shared_models() -> Path | None:
    """../shared/models beside the checkout, for a developer machine without PROOFING_MODELS_DIR."""
    candidate = Path(__file__).resolve().parents[3] / "shared" / "models"
    return candidate if candidate.is_dir() else None


@app.command("demo")
def demo(
    shared: bool = typer.Option(False, "--shared", help="Also read the shared MRZ specimen photos."),
    shared_dir: Path | None = typer.Option(
        None, "--shared-dir", help="The shared data folder (default: ../shared/data when present)."
    ),
    pcsc: bool = typer.Option(True, "--pcsc/--no-pcsc", help="Read the virtual chip through pcscd + vpcd when installed."),
    queue: bool = typer.Option(True, "--queue/--no-queue", help="File a REVIEW case into the review store."),
) -> None:
    """Render a passport page, sign a chip, make a selfie burst; run and decide the session."""
    if not os.environ.get("PROOFING_MODELS_DIR") and (models := _shared_models()) is not None:
        os.environ["PROOFING_MODELS_DIR"] = str(models)  # read by proofing.settings, once per use
        typer.echo(f"models: {models} (PROOFING_MODELS_DIR unset)")
    from proofing.demo import run_demo

    report = run_demo(typer.echo, shared_dir, with_shared=shared, use_pcsc=pcsc, queue=queue)
    typer.echo(f"demo: decision {report.decision}" + (f", case {report.case_id}" if report.case_id else ""))
    if not report.ok:
        typer.echo("demo: some steps differ (see above)")
        raise typer.Exit(1)
