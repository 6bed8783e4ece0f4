"""Data protection on SQLite and PostgreSQL: the retention purge removes exactly the
biometric blobs of old decided cases, erasure removes one session's data, keys rotate,
and ciphertext is bound to its case and kind."""

from __future__ import annotations

import hashlib
import stat
from datetime import timedelta
from pathlib import Path

import pytest

from proofing.review import (
    EvidenceIn,
    EvidenceKeyError,
    InvalidState,
    Keyring,
    PermissionDenied,
    ReviewStore,
    claim,
    claim_next,
    decide,
    erase_session,
    file_case,
    get_case,
    open_store,
    purge_retention,
    read_evidence,
    rotate_keys,
    verify_audit,
)
from proofing.review import testing as rt
from proofing.review.crypto import KEY_FILE, key_id_of, keyring_from_settings, new_key_spec
from proofing.review.models import Evidence
from proofing.settings import Settings

pg_url = rt.pg_url
db_url = rt.db_url
clock = rt.clock
store = rt.store


def blob_paths(st: ReviewStore, tmp_path: Path, case_id: str) -> dict[str, Path]:
    with st.sessions() as s:
        rows = s.query(Evidence).filter(Evidence.case_id == case_id).all()
        return {r.id: tmp_path / "data" / "evidence" / r.storage_key for r in rows}


def decided(st: ReviewStore, **kw: object) -> str:
    cid = rt.new_case(st, **kw)  # type: ignore[arg-type]
    claim(st, cid, "alice")
    decide(st, cid, "alice", "REJECT", "document expired")
    return cid


def test_retention_purges_exactly_old_decided_biometrics(
    store: ReviewStore, clock: rt.FakeClock, tmp_path: Path
) -> None:
    old = decided(store)
    old_mixed = rt.new_case(store)
    undecided_old = rt.new_case(store)
    claim(store, old_mixed, "bob")
    decide(store, old_mixed, "bob", "ACCEPT", "fine")
    clock.advance(timedelta(days=31))
    recent = decided(store)
    before = {cid: get_case(store, cid, "vic") for cid in (old, old_mixed, undecided_old, recent)}
    files = {cid: blob_paths(store, tmp_path, cid) for cid in before}
    assert all(p.is_file() for fs in files.values() for p in fs.values())

    dry = purge_retention(store, days=30, dry_run=True)
    assert sorted(dry.cases) == sorted([old, old_mixed]) and dry.files_deleted == 0
    assert all(p.is_file() for fs in files.values() for p in fs.values())
    assert get_case(store, old, "vic") == before[old]

    report = purge_retention(store, days=30)

    assert sorted(report.cases) == sorted([old, old_mixed])
    assert len(report.evidence) == 6 and report.files_deleted == 6
    for cid in (old, old_mixed):
        after = get_case(store, cid, "vic")
        assert all(not p.exists() for p in files[cid].values())
        assert all(e.purged_at is not None and e.purge_reason == "retention" for e in after.evidence)
        # decision, reasons and hashes are kept
        assert (after.final_decision, after.final_reason, after.reasons) == (
            before[cid].final_decision, before[cid].final_reason, before[cid].reasons)
        assert [e.sha256 for e in after.evidence] == [e.sha256 for e in before[cid].evidence]
        with pytest.raises(InvalidState):
            read_evidence(store, after.evidence[0].id, "ada")
    for cid in (undecided_old, recent):
        assert get_case(store, cid, "vic") == before[cid]
        assert all(p.is_file() for p in files[cid].values())
    # a second run finds nothing; the audit records one purge per case
    assert purge_retention(store, days=30).evidence == []
    assert verify_audit(store).ok


def test_retention_keeps_non_biometric_kinds(store: ReviewStore, clock: rt.FakeClock, tmp_path: Path) -> None:
    cid = file_case(
        store, session_id="s-meta", machine_decision="REJECT", reasons=[], risk_score=0.9,
        policy_hash="p", queued=False,
        evidence=[EvidenceIn("selfie", "image/jpeg", b"face"), EvidenceIn("report", "application/json", b"{}")],
    )
    clock.advance(timedelta(days=40))
    purge_retention(store, days=30)
    kinds = {e.kind: e.purged_at is not None for e in get_case(store, cid, "vic").evidence}
    assert kinds == {"selfie": True, "report": False}


def test_sweep_deletes_files_left_by_a_crash(store: ReviewStore, clock: rt.FakeClock, tmp_path: Path) -> None:
    cid = decided(store)
    paths = blob_paths(store, tmp_path, cid)
    saved = {p: p.read_bytes() for p in paths.values()}
    clock.advance(timedelta(days=31))
    purge_retention(store, days=30)
    for p, data in saved.items():  # as if the process died between commit and delete
        p.write_bytes(data)
    assert purge_retention(store, days=30).files_deleted == 3
    assert not any(p.exists() for p in paths.values())


def test_purge_needs_admin(store: ReviewStore) -> None:
    with pytest.raises(PermissionDenied):
        purge_retention(store, actor="alice")
    with pytest.raises(PermissionDenied):
        erase_session(store, "s-x", actor="alice", reason="req-1")


def test_erasure_of_one_session(store: ReviewStore, tmp_path: Path) -> None:
    gone_decided = decided(store, session_id="s-erase")
    gone_queued = rt.new_case(store, session_id="s-erase")
    kept = rt.new_case(store, session_id="s-other")
    paths = {cid: blob_paths(store, tmp_path, cid) for cid in (gone_decided, gone_queued, kept)}
    report = erase_session(store, "s-erase", actor="ada", reason="request #42")
    assert sorted(report.cases) == sorted([gone_decided, gone_queued]) and report.files_deleted == 6
    for cid in (gone_decided, gone_queued):
        assert not any(p.exists() for p in paths[cid].values())
        v = get_case(store, cid, "vic")
        assert all(e.purge_reason == "erasure" for e in v.evidence)
        assert all(len(e.sha256) == 64 for e in v.evidence)
    assert get_case(store, gone_decided, "vic").final_decision == "REJECT"
    assert get_case(store, gone_queued, "vic").status == "withdrawn"
    assert all(p.is_file() for p in paths[kept].values())
    assert claim_next(store, "alice") is not None  # only the other session's case is left
    assert verify_audit(store).ok


def test_key_rotation(db_url: str, tmp_path: Path, clock: rt.FakeClock) -> None:
    k1, k2 = new_key_spec("k1"), new_key_spec("k2")
    data = tmp_path / "data"
    st = open_store(db_url, settings=rt.settings_for(data, k1), clock=clock)
    try:
        rt.empty(st)
        rt.add_user(st, "ada", "admin")
        cid = rt.new_case(st)
        ids = [e.id for e in get_case(st, cid, "ada").evidence]
        plain = [read_evidence(st, i, "ada") for i in ids]
    finally:
        st.close()
    st = open_store(db_url, settings=rt.settings_for(data, f"{k2},{k1}"), clock=clock)
    try:
        assert [read_evidence(st, i, "ada") for i in ids] == plain  # old key still decrypts
        assert rotate_keys(st, actor="ada") == 3
        assert rotate_keys(st, actor="ada") == 0
        for path in blob_paths(st, tmp_path, cid).values():
            assert key_id_of(path.read_bytes()) == "k2"
    finally:
        st.close()
    st = open_store(db_url, settings=rt.settings_for(data, k2), clock=clock)
    try:
        assert [read_evidence(st, i, "ada") for i in ids] == plain
        assert [e.key_id for e in get_case(st, cid, "ada").evidence] == ["k2"] * 3
        assert [hashlib.sha256(p).hexdigest() for p in plain] == [e.sha256 for e in get_case(st, cid, "ada").evidence]
    finally:
        st.close()


def test_ciphertext_is_bound_to_case_and_kind(store: ReviewStore, tmp_path: Path) -> None:
    a, b = rt.new_case(store), rt.new_case(store)
    pa = {e.kind: e.id for e in get_case(store, a, "ada").evidence}
    pb = {e.kind: e.id for e in get_case(store, b, "ada").evidence}
    files_a, files_b = blob_paths(store, tmp_path, a), blob_paths(store, tmp_path, b)
    # a selfie of case A copied over case B's selfie does not open as B's
    files_b[pb["selfie"]].write_bytes(files_a[pa["selfie"]].read_bytes())
    with pytest.raises(EvidenceKeyError):
        read_evidence(store, pb["selfie"], "ada")
    # nor does A's selfie relabelled as A's document image
    files_a[pa["document_image"]].write_bytes(files_a[pa["selfie"]].read_bytes())
    with pytest.raises(EvidenceKeyError):
        read_evidence(store, pa["document_image"], "ada")


def test_embedded_default_generates_a_private_key(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "d")
    first = keyring_from_settings(settings)
    path = tmp_path / "d" / KEY_FILE
    assert first.generated and stat.S_IMODE(path.stat().st_mode) == 0o600
    again = keyring_from_settings(settings)
    assert not again.generated and again.keys == first.keys
    assert "base64" not in repr(first) and first.keys[0][1].hex() not in repr(first)
    with pytest.raises(EvidenceKeyError):  # a real deployment must configure its keys
        keyring_from_settings(Settings(data_dir=tmp_path / "e", database_url="postgresql://x/y"))
    for bad in ("nokey", "k1:not-base64!", "k1:" + "QUFB", f"{new_key_spec('a')},{new_key_spec('a')}"):
        with pytest.raises(EvidenceKeyError):
            Keyring.parse(bad)
    assert "evidence_keys" not in repr(Settings(evidence_keys=new_key_spec()))
