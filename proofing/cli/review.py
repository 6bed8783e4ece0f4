"""``proofing review ...`` for a terminal reviewer and operators, and ``proofing audit verify``.

Exit codes follow the rest of the CLI: 0 done, 1 refused or invalid (a rule of the queue,
a broken audit chain), 2 bad usage.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import typer

from proofing.cli.app import app, fail, print_json

if TYPE_CHECKING:
    from proofing.review import CaseView, ReviewStore

review_app = typer.Typer(help="The assisted-review queue: list, claim, decide, purge.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log of reviewer actions.", no_args_is_help=True)
app.add_typer(review_app, name="review")
app.add_typer(audit_app, name="audit")

DB_OPT = typer.Option(None, "--db", help="Database URL (default: PROOFING_DATABASE_URL or SQLite in the data dir).")
AS_OPT = typer.Option(..., "--as", help="Your reviewer name (an account made with `review user`).")
JSON_OPT = typer.Option(False, "--json", help="Print JSON.")


@contextmanager
def _store(db: str | None) -> Iterator[ReviewStore]:
    from proofing.review import EvidenceKeyError, ReviewError, open_store

    try:
        store = open_store(db)
    except (EvidenceKeyError, ValueError, OSError) as e:
        raise fail(str(e)) from None
    try:
        yield store
    except ReviewError as e:
        raise fail(str(e), 1) from None
    except ValueError as e:
        raise fail(str(e)) from None
    finally:
        store.close()


def _line(c: CaseView) -> str:
    held = f" by {c.claimed_by} until {c.lease_expires_at:%H:%M}" if c.claimed_by and not c.lease_expired else ""
    codes = ",".join(r.code for r in c.reasons) or "-"
    return (
        f"{c.id}  {c.status:<20} p{c.priority:<3} machine={c.machine_decision:<6} risk={c.risk_score:.2f} "
        f"sla={c.sla_deadline:%Y-%m-%d %H:%M} {codes}{held}"
    )


def _show(c: CaseView) -> None:
    typer.echo(_line(c))
    for r in c.reasons:
        typer.echo(f"  reason {r.code}: {r.explanation}")
    for e in c.evidence:
        gone = f" purged {e.purged_at:%Y-%m-%d} ({e.purge_reason})" if e.purged_at else ""
        typer.echo(f"  evidence {e.id} {e.kind} {e.content_type} {e.size} B sha256={e.sha256[:16]}{gone}")
    if c.pending_decision:
        typer.echo(f"  pending {c.pending_decision} by {c.pending_by}: needs a second reviewer")
    if c.final_decision:
        typer.echo(f"  decided {c.final_decision} by {c.decided_by}"
                   + (f", confirmed by {c.confirmed_by}" if c.confirmed_by else "") + f": {c.final_reason}")


@review_app.command("list")
def list_cmd(
    user: str = AS_OPT,
    status: str | None = typer.Option(None, "--status", help="queued, claimed, pending_confirmation, escalated, awaiting_capture, decided, withdrawn."),
    limit: int = typer.Option(50, "--limit", min=1),
    db: str | None = DB_OPT,
    json_out: bool = JSON_OPT,
) -> None:
    """Cases in queue order (priority, then SLA deadline)."""
    from proofing.review import list_cases

    with _store(db) as store:
        cases = list_cases(store, user, status=status, limit=limit)
    if json_out:
        print_json({"schema": "proofing.review-list/1", "cases": [c.to_json() for c in cases]})
        return
    for c in cases:
        typer.echo(_line(c))


@review_app.command("claim")
def claim_cmd(
    case_id: str | None = typer.Argument(None, help="A case to claim (or renew); default: the next one."),
    user: str = AS_OPT,
    minutes: int = typer.Option(15, "--lease-minutes", min=1, help="Lease length."),
    db: str | None = DB_OPT,
    json_out: bool = JSON_OPT,
) -> None:
    """Claim the next case (or CASE_ID) for a lease; exit 1 when the queue is empty."""
    from datetime import timedelta

    from proofing.review import claim, claim_next

    with _store(db) as store:
        lease = timedelta(minutes=minutes)
        case = claim(store, case_id, user, lease=lease) if case_id else claim_next(store, user, lease=lease)
    if json_out:
        print_json({"schema": "proofing.review-claim/1", "case": case.to_json() if case else None})
    elif case:
        _show(case)
    else:
        typer.echo("queue empty")
    if case is None:
        raise typer.Exit(1)


@review_app.command("decide")
def decide_cmd(
    case_id: str = typer.Argument(...),
    action: str = typer.Argument(..., help="accept, reject, recapture (ask for a new capture) or escalate."),
    reason: str = typer.Option(..., "--reason", help="Why (mandatory; no personal data: it goes to the audit log)."),
    user: str = AS_OPT,
    db: str | None = DB_OPT,
    json_out: bool = JSON_OPT,
) -> None:
    """Decide a case you hold. Accepting over the machine's REJECT waits for a second reviewer."""
    from proofing.review import decide, escalate, request_capture

    action = action.lower()
    if action not in ("accept", "reject", "recapture", "escalate"):
        raise fail("action must be accept, reject, recapture or escalate")
    duplicate = pending = False
    with _store(db) as store:
        if action in ("accept", "reject"):
            result = decide(store, case_id, user, action.upper(), reason)
            case, duplicate, pending = result.case, result.duplicate, result.needs_confirmation
        elif action == "recapture":
            case = request_capture(store, case_id, user, reason)
        else:
            case = escalate(store, case_id, user, reason)
    if json_out:
        print_json({"schema": "proofing.review-decide/1", "case": case.to_json(),
                    "duplicate": duplicate, "needs_confirmation": pending})
        return
    _show(case)
    if duplicate:
        typer.echo("(already recorded: nothing changed)")


@review_app.command("user")
def user_cmd(
    name: str = typer.Argument(...),
    role: str = typer.Argument(..., help="viewer, reviewer, senior_reviewer or admin."),
    db: str | None = DB_OPT,
) -> None:
    """Create a back-office account or change its role (operator command)."""
    from proofing.review import add_user

    with _store(db) as store:
        add_user(store, name, role)
    typer.echo(f"{name}: {role}")


@review_app.command("password")
def password_cmd(
    name: str = typer.Argument(...),
    stdin: bool = typer.Option(False, "--stdin", help="Read the password from standard input (scripts)."),
    db: str | None = DB_OPT,
) -> None:
    """Set a console password (argon2id; at least 12 characters). Asks twice unless --stdin."""
    import sys

    from proofing.review.accounts import set_password

    if stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    with _store(db) as store:  # too short: exit 2; unknown user: exit 1
        set_password(store, name, password)
    typer.echo(f"{name}: password set")


@review_app.command("purge")
def purge_cmd(
    user: str = AS_OPT,
    days: int = typer.Option(30, "--days", min=0, help="Purge biometric evidence of cases decided more than this many days ago."),
    session: str | None = typer.Option(None, "--session", help="Erase everything personal of this session instead (applicant's request)."),
    reason: str = typer.Option("", "--reason", help="Erasure request reference (required with --session)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what the retention purge would remove."),
    db: str | None = DB_OPT,
    json_out: bool = JSON_OPT,
) -> None:
    """Retention purge (admin), or erasure of one session with --session."""
    from proofing.review import erase_session, purge_retention

    if session and dry_run:
        raise fail("--dry-run applies to the retention purge only")
    with _store(db) as store:
        if session:
            report = erase_session(store, session, actor=user, reason=reason)
        else:
            report = purge_retention(store, days=days, actor=user, dry_run=dry_run)
    if json_out:
        print_json(report.to_json())
        return
    verb = "would purge" if dry_run else "purged"
    typer.echo(f"{verb} {len(report.evidence)} blobs of {len(report.cases)} cases ({report.files_deleted} files deleted)")


@review_app.command("rotate")
def rotate_cmd(user: str = AS_OPT, db: str | None = DB_OPT) -> None:
    """Re-encrypt evidence under the current (first) key of PROOFING_EVIDENCE_KEYS."""
    from proofing.review import rotate_keys

    with _store(db) as store:
        n = rotate_keys(store, actor=user)
    typer.echo(f"re-encrypted {n} blobs")


@audit_app.command("verify")
def verify_cmd(db: str | None = DB_OPT, json_out: bool = JSON_OPT) -> None:
    """Check the audit chain; exit 1 and name the first bad entry when it was tampered with."""
    from proofing.review import verify_audit

    with _store(db) as store:
        result = verify_audit(store)
    if json_out:
        print_json(result.to_json())
    elif result.ok:
        typer.echo(f"ok: {result.entries} entries, head {result.head_hash}")
    else:
        typer.echo(f"BROKEN at entry {result.first_bad}: {result.problem} ({result.entries} entries verified before it)")
    if not result.ok:
        raise typer.Exit(1)
