"""``proofing models``: where each model of the manifest is, and how to fetch it."""

from __future__ import annotations

import typer

from proofing.cli.app import app, fail, print_json

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
