"""``proofing models``: where each model of the manifest is, and how to fetch it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from proofing.cli.app import app, fail, print_json

if TYPE_CHECKING:
    import numpy as np

models_app = typer.Typer(help="List, check and fetch the models named in models/manifest.toml.")
app.add_typer(models_app, name="models")


@models_app.command("list")
def list_models(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Each model: found (and where), missing, or present with the wrong sha256."""
    from proofing.runtime import default_registry

    rows = default_registry().status()
    if json_out:
        print_json({"schema": "proofing.models/1", "models": rows})
        return
    for row in rows:
        typer.echo(f"{row['name']:<12} {row['status']:<14} {row['path'] or row['sha256']}")


@models_app.command("fetch")
def fetch(name: str) -> None:
    """Download NAME from its upstream source into the cache, verifying its sha256."""
    from proofing.runtime import ModelError, default_registry

    try:
        path = default_registry().fetch(name)
    except (ModelError, OSError) as e:
        raise fail(str(e)) from None
    typer.echo(str(path))


def _model_inputs(name: str, task: str, images: list[Path]) -> list[np.ndarray]:
    """Input tensors for ``name`` made the way its own stage makes them.

    Each stage owns its preprocessing: the face stage aligns 112x112 crops or resizes
    whole frames, the PAD stage cuts context crops at the model's trained scale. Feeding
    a model another stage's tensors would calibrate int8 ranges on inputs it never sees.
    """
    if task == "face-anti-spoofing":
        from proofing.imaging import ImageError, load_image
        from proofing.liveness.pad import model_inputs as pad_inputs

        decoded = []
        for path in images:
            try:
                decoded.append(load_image(path))
            except ImageError:
                continue
        return pad_inputs(name, decoded)
    from proofing.face.calibration_data import model_inputs

    return model_inputs(name, task, images)


@models_app.command("build")
def build(
    name: str = typer.Argument(..., help="Model in the manifest, e.g. sface."),
    variant: list[str] = typer.Option(
        ["fp16", "int8-dynamic", "int8"], "--variant", help="fp16, int8-dynamic or int8 (repeatable)."
    ),
    calibration: str | None = typer.Option(
        None, "--calibration", help="Folder of face photos (default: the manifest's, under the shared data dir)."
    ),
    count: int = typer.Option(64, "--count", min=8, help="Calibration images (static int8; percentile calibration holds every activation: ~60 MB per image for SFace)."),
    holdout: int = typer.Option(
        512, "--holdout", min=0, help="Held-out images (the other half of the set) for the cosine-to-fp32 check."
    ),
    min_cosine: float = typer.Option(0.99, "--min-cosine", help="int8 target: min cosine to fp32 on the holdout."),
    search: bool = typer.Option(
        False,
        "--search",
        help="Measure which blocks must stay in float (greedy, slow) instead of applying the manifest's recipe.",
    ),
    equalize: str | None = typer.Option(
        None,
        "--equalize",
        help="int8: channel equalisation before quantising, none | cle | act | act:ALPHA (default: the manifest's).",
    ),
    bias_correction: bool | None = typer.Option(
        None, "--bias-correction/--no-bias-correction", help="int8: empirical bias correction (default: the manifest's)."
    ),
) -> None:
    """Build precision variants of NAME into the cache, each recorded with its sha256."""
    from proofing.face.calibration_data import list_images
    from proofing.runtime import ModelError, default_registry
    from proofing.runtime.variants import build_variant, equalization

    reg = default_registry()
    try:
        spec = reg.spec(name)
    except ModelError as e:
        raise fail(str(e)) from None
    eq: dict[str, object] | None = None
    if equalize is not None or bias_correction is not None:
        eq = equalization(reg, name, "int8")
        if equalize is not None:
            method, _, alpha = equalize.partition(":")
            if method not in ("none", "cle", "act"):
                raise fail(f"--equalize {equalize!r}: expected none, cle, act or act:ALPHA")
            eq = {k: v for k, v in eq.items() if k == "bias_correction"}
            if method != "none":
                eq["equalize"] = method
            if method == "act":
                eq["alpha"] = float(alpha or 1.0)
        if bias_correction is not None:
            eq.pop("bias_correction", None)
            if bias_correction:
                eq["bias_correction"] = True
    folder: Path | None = Path(calibration) if calibration else None
    if folder is None and spec.extra.get("calibration"):
        shared = reg.settings.shared_data_dir
        if shared is None:
            raise fail("set PROOFING_SHARED_DATA_DIR or pass --calibration DIR")
        folder = shared / str(spec.extra["calibration"])
    images = list_images(folder) if folder and folder.is_dir() else []
    # Every k-th image, so calibration and holdout both span the identities of the set.
    calib_imgs, hold_imgs = images[0::2][:count], images[1::2][:holdout]
    calib = _model_inputs(name, spec.task, calib_imgs) if "int8" in variant else []
    hold = _model_inputs(name, spec.task, hold_imgs) if hold_imgs else []
    source: dict[str, object] = {"folder": str(folder) if folder else "", "images": [p.name for p in calib_imgs]}
    for v in variant:
        try:
            rec = build_variant(
                name,
                v,
                reg,
                calib,
                hold,
                source if v == "int8" else None,
                min_cosine,
                search=search and "int8" in v,
                equalize=eq if v == "int8" else None,
            )
        except (ModelError, ValueError, OSError) as e:
            raise fail(f"{name} {v}: {e}") from None
        m = rec.measured
        cos = f" cos-to-fp32 min {m['cos_to_fp32_min']:.4f} mean {m['cos_to_fp32_mean']:.4f}" if m else ""
        kept = rec.builder.get("kept_in_float")
        typer.echo(f"{name}.{v}: sha256 {rec.sha256[:16]}{cos}" + (f" float layers {kept}" if kept else ""))
        if search and "int8" in v:
            typer.echo(f"manifest recipe for [models.{name}.{v}]: keep_float = {json.dumps(kept or [])}")


@models_app.command("build-defaults")
def build_defaults(
    calibration: str | None = typer.Option(
        None,
        "--calibration",
        help="Folder of face photos (default: each model's, under the shared data dir).",
    ),
) -> None:
    """Build every model's manifest ``default_variant`` (the benchmark's precision choice)
    that is not built yet; the runtime uses each one only if its build met the budget."""
    from proofing.runtime import ModelNotFound, default_registry
    from proofing.runtime.variants import load_built_variant

    reg = default_registry()
    for name, spec in sorted(reg.specs.items()):
        wanted = spec.extra.get("default_variant")
        if not isinstance(wanted, str) or wanted == "fp32":
            continue
        try:
            load_built_variant(name, wanted, reg)
            typer.echo(f"{name}.{wanted}: already built")
            continue
        except ModelNotFound:
            pass
        build(
            name=name,
            variant=[wanted],
            calibration=calibration,
            count=64,
            holdout=512,
            min_cosine=0.99,
            search=False,
            equalize=None,
            bias_correction=None,
        )
