"""The HTTP API on a real store (SQLite and PostgreSQL): applicant sessions, the reviewer
console, administration and the operations endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from proofing.review import ReviewStore
from proofing.review import testing as rt
from service import testing as st

pg_url = rt.pg_url
db_url = rt.db_url
clock = rt.clock
store = rt.store


@pytest.fixture()
def client(store: ReviewStore, tmp_path: Path, db_url: str) -> Iterator[TestClient]:
    with st.client_for(st.settings_for(tmp_path / "data", db_url), store) as c:
        yield c


def test_session_create_status_uploads_submit(client: TestClient) -> None:
    sid, auth, challenge = st.new_session(client)
    assert len(challenge) == 8
    r = client.get(f"/v1/sessions/{sid}", headers=auth)
    assert r.status_code == 200 and r.json()["status"] == "open" and r.json()["decision"] is None

    r = client.post(f"/v1/sessions/{sid}/document", headers=auth,
                    files=[("frames", ("page.jpg", st.jpeg(seed=1), "image/jpeg"))])
    assert r.status_code == 201, r.text
    assert r.json()["counts"] == {"document": 1}
    r = client.post(f"/v1/sessions/{sid}/selfie", headers=auth,
                    files=[("frames", (f"s{i}.jpg", st.jpeg(seed=i), "image/jpeg")) for i in range(3)])
    assert r.status_code == 201 and r.json()["counts"] == {"document": 1, "selfie": 3}

    r = client.post(f"/v1/sessions/{sid}/document/preview", headers=auth,
                    files={"frame": ("f.jpg", st.jpeg(), "image/jpeg")})
    assert r.status_code == 200, r.text
    assert r.json()["ready"] is False and r.json()["feedback"] and len(r.json()["messages"]) == len(r.json()["feedback"])

    r = client.post(f"/v1/sessions/{sid}/submit", headers=auth)
    assert r.status_code == 202 and r.json()["status"] == "submitted"
    # Closed for uploads once submitted.
    r = client.post(f"/v1/sessions/{sid}/selfie", headers=auth, files=[("frames", ("s.jpg", st.jpeg(), "image/jpeg"))])
    assert r.status_code == 409 and r.json()["error"] == "invalid_state"
    st.wait_processed(client)
    body = client.get(f"/v1/sessions/{sid}", headers=auth).json()
    assert body["status"] == "decided" and body["decision"] in ("REJECT", "REVIEW")
    assert body["reasons"] and all(set(r) == {"code", "message"} for r in body["reasons"])
    assert body["evidence_url"] == f"/v1/sessions/{sid}/evidence"
    r = client.get(body["evidence_url"], headers=auth)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/jose")
    assert r.text.count(".") == 2

    from proofing.evidence import verify_record

    record = verify_record(r.text, client.get("/.well-known/jwks.json").json())
    assert record["sub"] == sid and record["decision"] == body["decision"]

    # Withdrawal erases the evidence and keeps the decision.
    assert client.delete(f"/v1/sessions/{sid}", headers=auth).status_code == 204
    assert client.get(f"/v1/sessions/{sid}", headers=auth).json()["decision"] == body["decision"]


def test_chip_upload(client: TestClient) -> None:
    import base64

    from proofing.nfc import testpki
    from proofing.pipeline.samples import demo_mrz

    sid, auth, challenge = st.new_session(client)
    dump = testpki.make_profile(demo_mrz()).dump(challenge)
    body = {"files": {k: base64.b64encode(v).decode() for k, v in dump.files.items()},
            "aa_signature": base64.b64encode(dump.aa_signature or b"").decode()}
    r = client.post(f"/v1/sessions/{sid}/chip", headers=auth, json=body)
    assert r.status_code == 201, r.text
    assert r.json()["counts"]["chip"] == len(dump.files) and r.json()["counts"]["aa_signature"] == 1
    bad = {"files": {"DG1": "not base64!"}}
    assert client.post(f"/v1/sessions/{sid}/chip", headers=auth, json=bad).status_code == 422


def test_review_console_flow(client: TestClient, store: ReviewStore) -> None:
    case_id = rt.new_case(store)
    assert client.get("/v1/review/cases").status_code == 401
    csrf = st.login(client, store, "alice")

    cases = client.get("/v1/review/cases", params={"status": "queued"}).json()
    assert [c["id"] for c in cases] == [case_id] and cases[0]["overdue"] is False
    assert client.get("/v1/review/cases", params={"overdue": True}).json() == []

    r = client.post("/v1/review/claim-next", headers=csrf)
    assert r.status_code == 200, r.text
    detail = r.json()
    assert detail["case"]["id"] == case_id and detail["case"]["status"] == "claimed"
    assert [x["code"] for x in detail["reasons"]] == ["FACE_LOW"]
    assert {e["kind"] for e in detail["evidence"]} == {"document_image", "selfie", "chip_file"}
    assert [a["action"] for a in detail["audit"]] == ["file", "claim"]
    assert detail["personal_data_visible"] is True

    selfie = next(e for e in detail["evidence"] if e["kind"] == "selfie")
    r = client.get(f"/v1/review/cases/{case_id}/evidence/{selfie['id']}")
    assert r.status_code == 200 and r.content.startswith(b"\xff\xd8selfie-")
    assert r.headers["cache-control"].startswith("no-store")
    chip = next(e for e in detail["evidence"] if e["kind"] == "chip_file")
    r = client.get(f"/v1/review/cases/{case_id}/evidence/{chip['id']}")
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment")

    r = client.post(f"/v1/review/cases/{case_id}/decide", headers=csrf,
                    json={"decision": "REJECT", "reason": "document photo does not match"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "decided" and r.json()["pending_second_review"] is False
    # The same decision again is a harmless duplicate; a different one is refused.
    again = client.post(f"/v1/review/cases/{case_id}/decide", headers=csrf,
                        json={"decision": "REJECT", "reason": "document photo does not match"})
    assert again.status_code == 200 and again.json()["duplicate"] is True
    other = client.post(f"/v1/review/cases/{case_id}/decide", headers=csrf,
                        json={"decision": "ACCEPT", "reason": "changed my mind"})
    assert other.status_code == 409
    audit = client.get(f"/v1/review/cases/{case_id}").json()["audit"]
    assert [a["action"] for a in audit][-1] == "decide" and audit[-1]["actor"] == "alice"
    assert client.post("/v1/review/claim-next", headers=csrf).status_code == 204


def test_escalate_release_request_capture(client: TestClient, store: ReviewStore) -> None:
    a, b = rt.new_case(store, priority=2), rt.new_case(store, priority=1)
    csrf = st.login(client, store, "alice")
    assert client.post(f"/v1/review/cases/{a}/claim", headers=csrf).status_code == 200
    r = client.post(f"/v1/review/cases/{a}/escalate", headers=csrf, json={"reason": "unsure"})
    assert r.status_code == 200 and r.json()["status"] == "escalated"
    assert client.post(f"/v1/review/cases/{b}/claim", headers=csrf).status_code == 200
    assert client.post(f"/v1/review/cases/{b}/release", headers=csrf).json()["status"] == "queued"
    assert client.post(f"/v1/review/cases/{b}/claim", headers=csrf).status_code == 200
    r = client.post(f"/v1/review/cases/{b}/request-capture", headers=csrf, json={"reason": "blurred page"})
    assert r.status_code == 200 and r.json()["status"] == "awaiting_capture"
    assert client.post(f"/v1/review/cases/{b}/escalate", headers=csrf, json={"reason": "   "}).status_code == 422
    # Only a senior reviewer may take the escalated case.
    assert client.post(f"/v1/review/cases/{a}/claim", headers=csrf).status_code == 409
    client.cookies.clear()
    senior = st.login(client, store, "carol")
    assert client.post(f"/v1/review/cases/{a}/claim", headers=senior).status_code == 200


def test_admin_users_and_policy(client: TestClient, store: ReviewStore) -> None:
    csrf = st.login(client, store, "ada")
    users = client.get("/v1/admin/users").json()
    assert {u["username"] for u in users} >= {"alice", "ada"}
    assert next(u for u in users if u["username"] == "ada")["can_log_in"] is True
    r = client.post("/v1/admin/users", headers=csrf,
                    json={"username": "dave", "password": "a long enough passphrase", "role": "reviewer"})
    assert r.status_code == 201 and any(u["username"] == "dave" and u["role"] == "reviewer" for u in r.json())
    short = client.post("/v1/admin/users", headers=csrf, json={"username": "eve", "password": "short", "role": "admin"})
    assert short.status_code == 422
    pol = client.get("/v1/admin/policy").json()
    assert len(pol["sha256"]) == 64 and pol["rules"] and "face_accept" in pol["thresholds"]
    # The new account logs in.
    client.cookies.clear()
    r = client.post("/v1/auth/login", json={"username": "dave", "password": "a long enough passphrase"})
    assert r.status_code == 200 and r.json()["role"] == "reviewer"
    assert client.get("/v1/admin/users").status_code == 403


def test_login_logout(client: TestClient, store: ReviewStore) -> None:
    csrf = st.login(client, store, "alice")
    me = client.get("/v1/auth/me").json()
    assert me["username"] == "alice" and me["role"] == "reviewer" and me["csrf_token"] == csrf["X-CSRF-Token"]
    assert client.post("/v1/auth/login", json={"username": "alice", "password": "wrong password!"}).status_code == 403
    assert client.post("/v1/auth/login", json={"username": "nobody", "password": "wrong password!"}).status_code == 403
    assert client.post("/v1/auth/logout", headers=csrf).status_code == 204
    assert client.get("/v1/auth/me").status_code == 401


def test_operations(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.json()["checks"]["store"] == "ok" and ready.status_code in (200, 503)
    st.new_session(client)
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'proofing_http_requests_total{method="POST",route="/v1/sessions",status="201"}' in text
    assert 'proofing_sessions{decision="none",status="open"}' in text
    assert "proofing_http_request_duration_seconds_bucket" in text
    keys = client.get("/.well-known/jwks.json").json()["keys"]
    assert keys[0]["kty"] == "EC" and keys[0]["alg"] == "ES256" and "d" not in keys[0]
    schema = client.get("/openapi.json").json()
    assert "/v1/sessions/{session_id}/document" in schema["paths"] and "/v1/review/cases/{case_id}/decide" in schema["paths"]
    for page in ("/", "/console", "/console/login"):
        r = client.get(page)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")


def test_https_cookies_are_secure(store: ReviewStore, tmp_path: Path, db_url: str) -> None:
    settings = st.settings_for(tmp_path / "data", db_url)
    with TestClient(st.create_app(settings, store), base_url="https://testserver") as c:
        st.login(c, store, "alice")
        r = c.post("/v1/auth/login", json={"username": "alice", "password": st.PASSWORD})
        cookies = r.headers.get_list("set-cookie")
        assert all("Secure" in x for x in cookies) and len(cookies) == 2
        assert "max-age=63072000" in r.headers["strict-transport-security"]


@pytest.mark.slow
def test_proofing_serve_runs_with_sqlite_alone(tmp_path: Path) -> None:
    """`proofing serve` on an empty data dir: both pages and the API answer, then it stops."""
    import json
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time

    import httpx

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PROOFING_DATA_DIR": str(tmp_path / "fresh"), "PROOFING_DATABASE_URL": ""}
    exe = Path(sys.executable).with_name("proofing")
    proc = subprocess.Popen([str(exe), "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "proofing serve did not start"
            time.sleep(0.3)
        for page in ("/", "/console", "/console/login"):
            r = httpx.get(base + page, timeout=10)
            assert r.status_code == 200 and "<html" in r.text.lower()
        r = httpx.post(base + "/v1/sessions", timeout=10)
        assert r.status_code == 201
        assert (tmp_path / "fresh" / "proofing.db").is_file()
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    lines = [json.loads(x) for x in err.splitlines() if x.startswith("{")]
    assert any(x.get("event") == "request" and x.get("route") == "/v1/sessions" for x in lines)
    assert r.json()["applicant_token"] not in err


def test_applicant_answers_a_capture_request(client: TestClient, store: ReviewStore) -> None:
    sid, auth, _ = st.new_session(client)
    frame = ("frames", ("s.jpg", st.jpeg(seed=3), "image/jpeg"))
    assert client.post(f"/v1/sessions/{sid}/selfie", headers=auth, files=[frame]).status_code == 201
    # Nothing was requested yet: a recapture is refused.
    assert client.post(f"/v1/sessions/{sid}/submit", headers=auth).status_code == 202
    st.wait_processed(client)
    assert client.post(f"/v1/sessions/{sid}/recapture/selfie", headers=auth, files=[frame]).status_code == 409
    body = client.get(f"/v1/sessions/{sid}", headers=auth).json()
    assert body["decision"] == "REVIEW", body
    csrf = st.login(client, store, "alice")
    case = client.post("/v1/review/claim-next", headers=csrf).json()
    case_id = case["case"]["id"]
    r = client.post(f"/v1/review/cases/{case_id}/request-capture", headers=csrf, json={"reason": "face too dark"})
    assert r.status_code == 200
    assert client.get(f"/v1/sessions/{sid}", headers=auth).json()["review_status"] == "awaiting_capture"
    r = client.post(f"/v1/sessions/{sid}/recapture/selfie", headers=auth,
                    files=[("frames", ("n.jpg", st.jpeg(seed=9), "image/jpeg"))])
    assert r.status_code == 201, r.text
    assert r.json()["review_status"] == "queued"
    r = client.post(f"/v1/sessions/{sid}/recapture/passport", headers=auth, files=[frame])
    assert r.status_code == 422
    audit = client.get(f"/v1/review/cases/{case_id}").json()["audit"]
    assert audit[-1]["action"] == "add_capture" and audit[-1]["actor"] == f"applicant:{sid}"
