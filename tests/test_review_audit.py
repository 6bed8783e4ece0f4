"""The audit chain on SQLite and PostgreSQL: every action recorded with before/after state,
and ``proofing audit verify`` finds an edited, a deleted and a reordered entry."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from sqlalchemy import select, text
from typer.testing import CliRunner

from proofing.review import ReviewStore, claim_next, decide, verify_audit
from proofing.review import testing as rt
from proofing.review.models import AuditEntry

pg_url = rt.pg_url
db_url = rt.db_url
clock = rt.clock
store = rt.store


def busy_log(st: ReviewStore) -> int:
    """A few cases with claims and decisions; returns the number of entries."""
    for _ in range(3):
        cid = rt.new_case(st)
        claim_next(st, "alice")
        decide(st, cid, "alice", "REJECT", "document expired")
    result = verify_audit(st)
    assert result.ok, result
    return result.entries


def sql(st: ReviewStore, statement: str, **params: object) -> None:
    with st.engine.begin() as c:
        c.execute(text(statement), params)


def test_entries_record_who_what_when_and_state(store: ReviewStore) -> None:
    cid = rt.new_case(store)
    claim_next(store, "alice")
    decide(store, cid, "alice", "ACCEPT", "all good")
    with store.sessions() as s:
        entries = s.execute(
            select(AuditEntry).where(AuditEntry.case_id == cid).order_by(AuditEntry.seq)
        ).scalars().all()
    last = json.loads(entries[-1].payload)
    assert (last["actor"], last["action"], last["case_id"]) == ("alice", "decide", cid)
    assert last["before"]["status"] == "claimed" and last["after"]["status"] == "decided"
    assert last["details"] == {"decision": "ACCEPT", "reason": "all good"}
    assert last["at"] and entries[-1].prev_hash == entries[-2].hash
    # evidence appears by id, kind and hash only: never its bytes
    filed = json.loads(entries[0].payload)
    assert {e["kind"] for e in filed["details"]["evidence"]} == {"document_image", "selfie", "chip_file"}
    assert "selfie-" not in entries[0].payload


def test_edited_entry_is_found(store: ReviewStore) -> None:
    busy_log(store)
    sql(store, "UPDATE review_audit SET payload = REPLACE(payload, 'REJECT', 'ACCEPT') WHERE seq = 11")
    result = verify_audit(store)
    assert not result.ok and result.first_bad == 11 and "edited" in (result.problem or "")


def test_edited_column_is_found(store: ReviewStore) -> None:
    busy_log(store)
    sql(store, "UPDATE review_audit SET actor = 'bob' WHERE seq = 7")
    result = verify_audit(store)
    assert not result.ok and result.first_bad == 7


def test_deleted_entry_is_found(store: ReviewStore) -> None:
    busy_log(store)
    sql(store, "DELETE FROM review_audit WHERE seq = 8")
    result = verify_audit(store)
    assert not result.ok and result.first_bad == 9 and result.entries == 7


def test_reordered_entries_are_found(store: ReviewStore) -> None:
    busy_log(store)
    sql(store, "UPDATE review_audit SET seq = -1 WHERE seq = 8")
    sql(store, "UPDATE review_audit SET seq = 8 WHERE seq = 9")
    sql(store, "UPDATE review_audit SET seq = 9 WHERE seq = -1")
    result = verify_audit(store)
    assert not result.ok and result.first_bad == 8


def test_cut_tail_is_found(store: ReviewStore) -> None:
    n = busy_log(store)
    sql(store, "DELETE FROM review_audit WHERE seq = :n", n=n)
    result = verify_audit(store)
    assert not result.ok and result.first_bad == n and "head" in (result.problem or "")


def test_cli_verify(store: ReviewStore, db_url: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from proofing.cli import app

    busy_log(store)
    monkeypatch.setenv("PROOFING_EVIDENCE_KEYS", rt.KEYS)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--db", db_url, "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["ok"] is True
    sql(store, "UPDATE review_audit SET payload = payload || ' ' WHERE seq = 5")
    bad = runner.invoke(app, ["audit", "verify", "--db", db_url])
    assert bad.exit_code == 1 and "BROKEN at entry 5" in bad.stdout


def test_cli_review_flow(store: ReviewStore, db_url: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from proofing.cli import app

    monkeypatch.setenv("PROOFING_EVIDENCE_KEYS", rt.KEYS)
    cid = rt.new_case(store, machine="REJECT")
    runner = CliRunner()

    def run(*args: str) -> dict:
        res = runner.invoke(app, ["review", *args, "--db", db_url, "--json"])
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout)

    assert [c["id"] for c in run("list", "--as", "vic")["cases"]] == [cid]
    assert run("claim", "--as", "alice")["case"]["id"] == cid
    out = run("decide", cid, "accept", "--reason", "genuine", "--as", "alice")
    assert out["needs_confirmation"] and out["case"]["status"] == "pending_confirmation"
    assert run("decide", cid, "accept", "--reason", "genuine", "--as", "alice")["duplicate"]
    denied = runner.invoke(app, ["review", "claim", "--as", "vic", "--db", db_url])
    assert denied.exit_code == 1 and "may not" in denied.output
    run("claim", cid, "--as", "bob")
    assert run("decide", cid, "accept", "--reason", "agree", "--as", "bob")["case"]["confirmed_by"] == "bob"
    assert verify_audit(store).ok


def test_evidence_bytes_never_logged(store: ReviewStore, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    cid = rt.new_case(store)
    claim_next(store, "alice")
    view = rt.get_case_view(store, cid)
    for e in view.evidence:
        rt.read(store, e.id)
    assert "selfie-" not in caplog.text and "doc-" not in caplog.text
