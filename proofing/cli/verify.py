"""``proofing verify``: one whole session run locally, from files or a live chip reader.

Also the two helpers the demo shares: :func:`echo_session` (the human-readable report)
and :func:`file_review_case` (puts a session into the review store; the pipeline itself
never touches the store).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from proofing.cli.app import app, fail, print_json

if TYPE_CHECKING:
    from proofing.nfc.transport import Transport
    from proofing.pipeline import SessionResult
    from proofing.review import ReviewStore

STATUS_MARK = {"performed": "ok ", "not_performed": "-- ", "error": "ERR"}


def echo_session(result: SessionResult, echo: Callable[[str], None] = typer.echo) -> None:
    """Each stage on one line (status, codes, scores, time), then the decision and reasons."""
    for name, st in result.stages.items():
        scores = " ".join(f"{k}={v:.3f}" for k, v in st.scores.items())
        what = st.reason if st.status != "performed" else ", ".join(st.codes) or "-"
        if st.status == "error":
            what = f"{', '.join(st.codes)}: {(st.reason or '').splitlines()[0] if st.reason else ''}"
        echo(f"   [{STATUS_MARK.get(st.status, '?  ')}] {name:9} {what}{'  ' + scores if scores else ''}"
             f"  ({st.timing_ms:.0f} ms)")
    d = result.decision
    if d is None:
        echo("   decision: none")
        return
    echo(f"== decision: {d.decision}  (risk {d.risk_score:.2f}; policy {d.policy['name']} "
         f"{d.policy['version']}, sha256 {str(d.policy['sha256'])[:12]})")
    for r in d.reasons:
        echo(f"   {r.decision:6} {r.code}: {r.reviewer}")
        echo(f"          applicant: {r.applicant}")


def file_review_case(result: SessionResult, store: ReviewStore) -> str:
    """File the session (decision, reasons, risk, policy hash, evidence) as a case.

    REVIEW is queued for a reviewer; ACCEPT / REJECT are recorded as final machine
    decisions so their evidence falls under the same retention and erasure rules.
    """
    from proofing.intake.process import case_evidence
    from proofing.review import file_decision

    d = result.decision
    if d is None:
        raise ValueError("the session has no decision to file")
    evidence = case_evidence(result)
    return file_decision(store, d, session_id=result.session_id, evidence=evidence,
                         priority=round(100 * d.risk_score))


@contextlib.contextmanager
def _reader(name: str) -> Iterator[Transport]:
    from proofing.nfc.transport import PcscTransport

    with PcscTransport(name or None) as transport:
        yield transport


@app.command("verify")
def verify_command(
    document: list[Path] = typer.Option(..., "--document", help="Document page image; repeat for a burst."),
    selfie: list[Path] = typer.Option([], "--selfie", help="Selfie frame; repeat for a burst."),
    chip: Path | None = typer.Option(None, "--chip", help="Chip dump directory (EF.SOD, DG1.bin, ...)."),
    reader: str | None = typer.Option(None, "--reader", help="Read the chip live from this PC/SC reader ('' = first)."),
    can: str = typer.Option("", "--can", help="Card access number for a live read (default: the MRZ key)."),
    challenge: str = typer.Option("", "--challenge", help="The server's AA challenge, 16 hex digits "
                                  "(a live read without it uses a fresh random one)."),
    trust: list[Path] = typer.Option([], "--trust", help="CSCA certificate, master list, CRL or directory; repeatable."),
    policy_file: Path | None = typer.Option(None, "--policy", help="Session policy TOML (default: the packaged one)."),
    queue: bool = typer.Option(False, "--queue", help="File the session into the review store (REVIEW is queued)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON (schema proofing.session/1)."),
) -> None:
    """Run a whole session and print the decision. Exit 0: ACCEPT, 1: REVIEW or REJECT, 2: bad input."""
    from proofing.nfc.bac import CanKey
    from proofing.nfc.dump import ChipDump
    from proofing.pipeline import PipelineContext, SessionEvidence, run_session
    from proofing.policy import PolicyError, load_policy

    if chip is not None and reader is not None:
        raise fail("--chip and --reader exclude each other")
    for p in [*document, *selfie]:
        if not p.is_file():
            raise fail(f"{p}: no such file")
    try:
        nonce = bytes.fromhex(challenge) if challenge else None
    except ValueError:
        raise fail("--challenge must be hex") from None
    if nonce is not None and len(nonce) != 8:
        raise fail("--challenge must be 8 bytes (16 hex digits)")
    try:
        policy = load_policy(policy_file)
    except PolicyError as exc:
        raise fail(str(exc)) from None
    store = None
    if trust:
        from proofing.nfc.lds import LdsError
        from proofing.nfc.trust import load_trust_store

        try:
            store = load_trust_store(trust)
        except (LdsError, OSError) as exc:
            raise fail(f"trust store: {exc}") from None
    evidence = SessionEvidence(document_frames=list(document), selfie_frames=list(selfie), challenge=nonce)
    if chip is not None:
        if not chip.is_dir():
            raise fail(f"{chip} is not a directory")
        evidence.chip_dump = ChipDump.from_dir(chip)
        if not evidence.chip_dump.files:
            raise fail(f"no chip files found in {chip}")
    if can:
        evidence.access_key = CanKey(can)
    ctx = PipelineContext(trust=store, policy=policy)
    with contextlib.ExitStack() as stack:
        if reader is not None:
            from proofing.nfc.errors import TransportError

            evidence.challenge = nonce or os.urandom(8)
            try:
                evidence.chip_transport = stack.enter_context(_reader(reader))
            except TransportError as exc:
                raise fail(f"reader: {exc}") from None
        result = run_session(evidence, ctx)
    case_id = None
    if queue:
        from proofing.review import open_store

        case_id = file_review_case(result, open_store())
    if json_out:
        out = result.to_dict()
        out["case_id"] = case_id
        print_json(out)
    else:
        typer.echo(f"== session {result.session_id}")
        echo_session(result)
        if case_id:
            typer.echo(f"   filed as case {case_id}")
    assert result.decision is not None
    if result.decision.decision != "ACCEPT":
        raise typer.Exit(1)
