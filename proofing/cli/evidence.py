"""``proofing evidence verify FILE``: check a signed evidence record (compact JWS).

The key set comes from a file, a service's ``/.well-known/jwks.json`` URL, or, by
default, this installation's own signing key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from proofing.cli.app import app, print_json

evidence_app = typer.Typer(help="Signed evidence records of decided sessions.", no_args_is_help=True)
app.add_typer(evidence_app, name="evidence")


def _key_set(jwks: str | None) -> dict[str, Any]:
    if not jwks:
        from proofing.evidence import jwks as own

        return own()
    if jwks.startswith(("http://", "https://")):
        import httpx

        resp = httpx.get(jwks, timeout=10)
        resp.raise_for_status()
        data: dict[str, Any] = resp.json()
        return data
    loaded: dict[str, Any] = json.loads(Path(jwks).read_text())
    return loaded


@evidence_app.command("verify")
def verify_command(
    record: Path = typer.Argument(..., help="File holding the compact JWS ('-' for stdin)."),
    jwks: str | None = typer.Option(None, "--jwks", help="JWK set: a file or the service's /.well-known/jwks.json URL."),
    json_out: bool = typer.Option(False, "--json", help="Print the verified payload as JSON."),
) -> None:
    """Verify the record's ES256 signature; print its decision. Exit code 1 if it does not verify."""
    import sys

    from proofing.evidence import JwsError, verify_record

    token = sys.stdin.read() if str(record) == "-" else record.read_text()
    try:
        keys = _key_set(jwks)
    except Exception as exc:
        typer.echo(f"cannot load the key set: {exc}", err=True)
        raise typer.Exit(2) from None
    try:
        payload = verify_record(token, keys)
    except JwsError as exc:
        if json_out:
            print_json({"valid": False, "error": str(exc)})
        else:
            typer.echo(f"INVALID: {exc}", err=True)
        raise typer.Exit(1) from None
    if json_out:
        print_json({"valid": True, "payload": payload})
        return
    typer.echo(f"VALID record for session {payload.get('sub')}: {payload.get('decision')} "
               f"(machine {payload.get('machine_decision')}, risk {payload.get('risk_score')})")
    typer.echo(f"   policy {payload.get('policy_hash')}")
    typer.echo(f"   reasons: {', '.join(payload.get('reasons') or []) or '-'}")
    for e in payload.get("evidence", []):
        typer.echo(f"   {e['kind']:<15} sha256 {e['sha256']}")
