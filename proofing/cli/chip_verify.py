"""``proofing verify-chip DIR``: passive / active authentication of a chip dump directory."""

from __future__ import annotations

from pathlib import Path

import typer

from proofing.cli.app import app, print_json


@app.command("verify-chip")
def verify_chip_command(
    directory: Path = typer.Argument(
        ..., help="Dump directory (EF.COM, EF.SOD, DG1..DG16, ef011D.bin, ...)."
    ),
    trust: list[Path] = typer.Option(
        [],
        "--trust",
        help="CSCA master list (.ml/.mls), certificate (.cer/.der/.pem), CRL, or a directory; repeatable.",
    ),
    root: list[Path] = typer.Option(
        [], "--ml-root", help="Root that must have issued each master list's signer; repeatable."
    ),
    challenge: str = typer.Option(
        "", "--challenge", help="Our AA challenge (hex) the dump's aa_signature.bin must sign."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON (schema proofing.chip/1)."),
) -> None:
    """Verify a chip dump from its raw bytes; exit code 1 unless everything checks out."""
    from proofing.nfc.dump import ChipDump
    from proofing.nfc.lds import LdsError
    from proofing.nfc.trust import load_trust_store
    from proofing.nfc.verify import verify_chip

    if not directory.is_dir():
        raise typer.BadParameter(f"{directory} is not a directory")
    try:
        nonce = bytes.fromhex(challenge) if challenge else None
    except ValueError as exc:
        raise typer.BadParameter("--challenge must be hex") from exc
    try:
        store = load_trust_store(trust, roots=root) if trust else None
    except (LdsError, FileNotFoundError) as exc:
        typer.echo(f"trust store: {exc}", err=True)
        raise typer.Exit(2) from exc
    dump = ChipDump.from_dir(directory)
    if not dump.files:
        typer.echo(f"no chip files found in {directory}", err=True)
        raise typer.Exit(2)
    result = verify_chip(dump, store, nonce)
    if json_out:
        print_json(result.to_dict())
    else:
        pa = result.passive_authentication
        typer.echo(f"== {directory}  valid={result.valid}")
        typer.echo(f"   files: {' '.join(result.files)}")
        if result.dg1:
            for line in result.dg1.lines:
                typer.echo(f"   {line}")
        typer.echo(
            f"   passive: hashes={pa.hashes_valid} signature={pa.signature_valid} "
            f"chain={pa.chain_valid} ({pa.hash_algorithm}, {pa.signature_algorithm})"
        )
        if pa.ds_certificate:
            typer.echo(f"   DS: {pa.ds_certificate.subject_text}")
        if pa.csca_certificate:
            typer.echo(
                f"   CSCA: {pa.csca_certificate.subject_text} [{pa.csca_certificate.source}]"
            )
        if result.active_authentication:
            aa = result.active_authentication
            typer.echo(f"   active: valid={aa.valid} {aa.algorithm or ''} {aa.hash_name or ''}")
        if result.chip_authentication:
            typer.echo(f"   chip authentication: valid={result.chip_authentication.get('valid')}")
        for name, err in result.parse_errors.items():
            typer.echo(f"   parse error {name}: {err}")
        if result.reasons:
            typer.echo(f"   reasons: {', '.join(result.reasons)}")
    if not result.valid:
        raise typer.Exit(1)
