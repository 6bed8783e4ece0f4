"""``proofing mrz IMAGE...``: read the machine-readable zone of each image."""

from __future__ import annotations

from pathlib import Path

import typer

from proofing.cli.app import app, print_json


@app.command("mrz")
def mrz_command(
    images: list[Path] = typer.Argument(..., help="Photos or scans of data pages / ID cards."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON (schema proofing.mrz/1)."),
    frames: bool = typer.Option(
        False, "--frames", help="Treat the images as a burst of one document and vote across them."
    ),
    lang: str = typer.Option(
        "", "--lang", help="Tesseract model: 'ocrb' (registry) or 'eng' (stock); default from settings."
    ),
) -> None:
    """Locate, read, check and correct the MRZ of each image."""
    from proofing.mrz.reader import read_mrz, read_mrz_frames

    results = (
        [read_mrz_frames(images, lang=lang or None)]
        if frames
        else [read_mrz(p, lang=lang or None) for p in images]
    )
    if json_out:
        print_json(results[0].to_dict() if frames else [r.to_dict() for r in results])
    else:
        for r in results:
            _print_human(r)
    if not all(r.valid for r in results):
        raise typer.Exit(1)


def _print_human(r: object) -> None:
    from proofing.mrz.result import MrzResult

    assert isinstance(r, MrzResult)
    typer.echo(f"== {r.source or '-'}")
    if not r.found:
        typer.echo(f"   not read: {', '.join(r.reasons)}")
        return
    typer.echo(f"   {r.document_type}  valid={r.valid}  confidence={r.confidence:.2f}")
    for line in r.lines:
        typer.echo(f"   {line}")
    if r.fields:
        f = r.fields
        typer.echo(
            f"   {f.primary_identifier}, {f.secondary_identifier} | {f.document_number} | "
            f"{f.nationality} | born {f.birth_date or f.birth_date_raw} | {f.sex} | "
            f"expires {f.expiry_date or f.expiry_date_raw}"
        )
    for c in r.corrections:
        typer.echo(f"   corrected {c.field}[{c.position}] {c.before}->{c.after} ({c.rule})")
    if r.reasons:
        typer.echo(f"   reasons: {', '.join(r.reasons)}")
