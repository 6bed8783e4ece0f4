"""``proofing models train-glyphs``: build the MRZ glyph classifier on this machine."""

from __future__ import annotations

import typer

from proofing.cli.app import fail, print_json
from proofing.cli.models import models_app


@models_app.command("train-glyphs")
def train_glyphs(
    images: int = typer.Option(800, "--images", min=10, help="Synthetic captures to cut training cells from."),
    heldout: int = typer.Option(100, "--heldout", min=0, help="Captures of the next seed for the held-out check."),
    seed: int = typer.Option(1000, "--seed", help="Corpus seed (the MRZ benchmark uses 0-3: keep away from them)."),
    epochs: int = typer.Option(8, "--epochs", min=1),
    json_out: bool = typer.Option(False, "--json", help="Print the build record as JSON."),
) -> None:
    """Train the MRZ glyph classifier on synthetic OCR-B captures (about 10 minutes for 800)
    and write it with its record into the cache, where the MRZ reader picks it up."""
    from proofing.mrz.glyph_train import build
    from proofing.mrz.glyphs import model_paths
    from proofing.mrz.synth import ocrb_available

    if not ocrb_available():
        raise fail("the OCR-B font is missing (apt install fonts-ocr-b)")
    model, record = model_paths()
    try:
        rec = build(model, record, images=images, heldout=heldout, seed=seed, epochs=epochs,
                    log=lambda m: typer.echo(m, err=True))
    except (RuntimeError, OSError) as e:
        raise fail(str(e)) from None
    if json_out:
        print_json({"schema": "proofing.glyph_model/1", **rec})
        return
    typer.echo(f"{model} sha256 {str(rec['sha256'])[:16]}")
    if "heldout" in rec:
        h = rec["heldout"]
        assert isinstance(h, dict)
        typer.echo(f"held-out cells {h['cells']}: classifier {h['accuracy']:.4f}, tesseract {h['tesseract_accuracy']:.4f}")
