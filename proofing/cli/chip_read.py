"""``proofing read-chip``: read a passport chip over PC/SC and write its raw files."""

from __future__ import annotations

from pathlib import Path

import typer

from proofing.cli.app import app, fail, print_json


@app.command("read-chip")
def read_chip_command(
    out: Path | None = typer.Option(None, "--out", help="Directory for the raw files and report.json."),
    mrz: list[str] = typer.Option(None, "--mrz", help="An MRZ line (repeat for each line)."),
    document_number: str = typer.Option("", "--document-number", help="Document number (with --birth, --expiry)."),
    birth: str = typer.Option("", "--birth", help="Date of birth, YYMMDD."),
    expiry: str = typer.Option("", "--expiry", help="Date of expiry, YYMMDD."),
    can: str = typer.Option("", "--can", help="Card access number (PACE only)."),
    reader: str = typer.Option("", "--reader", help="Part of the reader's name (default: first with a card)."),
    challenge: str = typer.Option("", "--challenge", help="Active Authentication challenge, 16 hex digits."),
    timeout: float = typer.Option(15.0, "--timeout", help="Seconds to wait for each chip answer."),
    short_apdus: bool = typer.Option(
        False, "--short-apdus", help="Never use extended-length APDUs (readers that cannot carry them)."
    ),
    session: str = typer.Option("", "--session", help="Session URL (https://host/v1/sessions/ID): take its "
                                "challenge and upload the files to it."),
    token: str = typer.Option("", "--token", envvar="PROOFING_APPLICANT_TOKEN",
                              help="The session's applicant token (or PROOFING_APPLICANT_TOKEN)."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Access the chip (PACE, else BAC), read EF.COM, EF.SOD and the DGs, run Chip and Active
    Authentication, and write the raw files for the server to verify."""
    from proofing.nfc.bac import AccessKey, CanKey, MrzKey
    from proofing.nfc.errors import ChipError
    from proofing.nfc.reader import read_chip
    from proofing.nfc.transport import PcscTransport

    key: AccessKey
    try:
        if can:
            key = CanKey(can)
        elif mrz:
            key = MrzKey.from_mrz_lines(mrz)
        elif document_number and birth and expiry:
            key = MrzKey(document_number, birth, expiry)
            key.mrz_information  # noqa: B018 - validates the dates
        else:
            raise fail("give --mrz, or --document-number/--birth/--expiry, or --can")
        nonce = bytes.fromhex(challenge) if challenge else None
    except ValueError as exc:
        raise fail(str(exc)) from exc
    if nonce is not None and len(nonce) != 8:
        raise fail("--challenge must be 8 bytes (16 hex digits)")
    if out is None and not session:
        raise fail("give --out DIR, or --session URL to upload")
    if session:
        if not token:
            raise fail("--session needs the applicant token (--token or PROOFING_APPLICANT_TOKEN)")
        nonce = nonce or _session_challenge(session, token)

    timings: dict[str, float] = {}
    try:
        with PcscTransport(reader or None, timeout=timeout) as transport:
            dump = read_chip(transport, key, challenge=nonce, timings=timings,
                             extended_length=False if short_apdus else None)
            reader_name = transport.name
    except ChipError as exc:
        raise fail(f"{type(exc).__name__}: {exc}", code=1) from exc
    if out is not None:
        dump.to_dir(out)
    report: dict[str, object] = {
        "schema": "proofing.read-chip/1",
        "reader": reader_name,
        "access_control": dump.access_control,
        "files": {name: len(data) for name, data in sorted(dump.files.items())},
        "chip_authentication": dump.chip_authentication,
        "active_authentication": None if dump.aa_signature is None else {
            "challenge": dump.aa_challenge.hex() if dump.aa_challenge else None,
            "signature_bytes": len(dump.aa_signature),
        },
        "timings_s": timings,
    }
    import json

    if out is not None:
        (out / "report.json").write_text(json.dumps(report, indent=2))
    if session:
        report["uploaded"] = _upload(session, token, dump)
    if json_out:
        print_json(report)
    else:
        where = out if out is not None else session
        typer.echo(f"{dump.access_control} on {reader_name}: {', '.join(sorted(dump.files))} -> {where}")


def _session_challenge(url: str, token: str) -> bytes:
    """The server's fresh AA challenge for this session (never one chosen by the client)."""
    import httpx

    try:
        resp = httpx.get(url.rstrip("/"), headers={"Authorization": f"Bearer {token}"}, timeout=15)
    except httpx.HTTPError as exc:
        raise fail(f"cannot reach the session: {exc}") from exc
    if resp.status_code != 200:
        raise fail(f"the session answered {resp.status_code}: {resp.text[:200]}")
    return bytes.fromhex(resp.json()["challenge"])


def _upload(url: str, token: str, dump: object) -> dict[str, object]:
    import base64

    import httpx

    files = {name: base64.b64encode(data).decode() for name, data in dump.files.items()}  # type: ignore[attr-defined]
    sig = dump.aa_signature  # type: ignore[attr-defined]
    body = {"files": files, "aa_signature": base64.b64encode(sig).decode() if sig else None}
    try:
        resp = httpx.post(url.rstrip("/") + "/chip", json=body, headers={"Authorization": f"Bearer {token}"},
                          timeout=30)
    except httpx.HTTPError as exc:
        raise fail(f"upload failed: {exc}") from exc
    if resp.status_code >= 300:
        raise fail(f"the session refused the chip files ({resp.status_code}): {resp.text[:300]}")
    result: dict[str, object] = resp.json()
    return result
