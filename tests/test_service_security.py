"""Security of the HTTP service: token scope, roles, CSRF, upload limits, hostile input,
rate limits across processes, headers, and no personal data in the logs of a whole
session run with the project's demo applicant."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from proofing.review import ReviewStore
from proofing.review import testing as rt
from service import testing as st
from service.logging import JsonFormatter
from service.security import Rate

pg_url = rt.pg_url
db_url = rt.db_url
clock = rt.clock
store = rt.store

SMALL = 200_000  # max_upload_bytes for these tests


@pytest.fixture()
def client(store: ReviewStore, tmp_path: Path, db_url: str) -> Iterator[TestClient]:
    settings = st.settings_for(tmp_path / "data", db_url, max_upload_bytes=SMALL, max_frames=4)
    with st.client_for(settings, store) as c:
        yield c


# -- applicant tokens ------------------------------------------------------------------------


def test_token_is_scoped_to_its_session(client: TestClient) -> None:
    a, auth_a, _ = st.new_session(client)
    b, auth_b, _ = st.new_session(client)
    assert client.get(f"/v1/sessions/{a}", headers=auth_a).status_code == 200
    for method, path in [("GET", f"/v1/sessions/{b}"), ("POST", f"/v1/sessions/{b}/submit"),
                         ("GET", f"/v1/sessions/{b}/evidence"), ("DELETE", f"/v1/sessions/{b}")]:
        r = client.request(method, path, headers=auth_a)
        assert r.status_code == 403 and r.json()["error"] == "forbidden", (method, path, r.text)
    r = client.post(f"/v1/sessions/{b}/document", headers=auth_a, files=[("frames", ("x.jpg", st.jpeg(), "image/jpeg"))])
    assert r.status_code == 403
    assert client.get(f"/v1/sessions/{b}").status_code == 401
    assert client.get(f"/v1/sessions/{b}", headers={"Authorization": "Basic YTpi"}).status_code == 401
    unknown = "00000000-0000-4000-8000-000000000000"
    assert client.get(f"/v1/sessions/{unknown}", headers=auth_a).status_code == 404
    assert client.get(f"/v1/sessions/{b}", headers=auth_b).status_code == 200


def test_expired_session_is_gone(client: TestClient, clock: rt.FakeClock) -> None:
    from datetime import timedelta

    sid, auth, _ = st.new_session(client)
    clock.advance(timedelta(hours=2))
    assert client.get(f"/v1/sessions/{sid}", headers=auth).status_code == 410
    r = client.post(f"/v1/sessions/{sid}/document", headers=auth, files=[("frames", ("x.jpg", st.jpeg(), "image/jpeg"))])
    assert r.status_code == 410


# -- console: roles and CSRF -----------------------------------------------------------------


def test_roles_and_claims(client: TestClient, store: ReviewStore) -> None:
    case_id = rt.new_case(store)
    csrf = st.login(client, store, "vic")  # viewer
    assert client.get("/v1/review/cases").status_code == 200
    r = client.post(f"/v1/review/cases/{case_id}/decide", headers=csrf, json={"decision": "ACCEPT", "reason": "ok"})
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert client.post("/v1/review/claim-next", headers=csrf).status_code == 403
    detail = client.get(f"/v1/review/cases/{case_id}").json()
    assert detail["fields"] == [] and detail["personal_data_visible"] is False
    evidence_id = detail["evidence"][0]["id"]
    assert client.get(f"/v1/review/cases/{case_id}/evidence/{evidence_id}").status_code == 403
    assert client.get("/v1/admin/users").status_code == 403

    client.cookies.clear()
    bob = st.login(client, store, "bob")
    # A reviewer who does not hold the case can neither decide it nor see its images.
    r = client.post(f"/v1/review/cases/{case_id}/decide", headers=bob, json={"decision": "ACCEPT", "reason": "ok"})
    assert r.status_code == 409 and r.json()["error"] == "not_claimed"
    assert client.get(f"/v1/review/cases/{case_id}/evidence/{evidence_id}").status_code == 409
    client.cookies.clear()
    alice = st.login(client, store, "alice")
    assert client.post(f"/v1/review/cases/{case_id}/claim", headers=alice).status_code == 200
    client.cookies.clear()
    st.login(client, store, "bob")
    assert client.get(f"/v1/review/cases/{case_id}/evidence/{evidence_id}").status_code == 409
    assert client.get(f"/v1/review/cases/{case_id}").json()["personal_data_visible"] is False


def test_csrf_and_cookie(client: TestClient, store: ReviewStore) -> None:
    rt.new_case(store)
    st.login(client, store, "alice")
    r = client.post("/v1/auth/login", json={"username": "alice", "password": st.PASSWORD})
    set_cookie = r.headers.get_list("set-cookie")
    session_cookie = next(c for c in set_cookie if c.startswith("proofing_console="))
    assert "HttpOnly" in session_cookie and "SameSite=strict" in session_cookie.replace("Strict", "strict")
    csrf = {"X-CSRF-Token": r.json()["csrf_token"]}
    # No token, a wrong token, a token from another login, a foreign origin: refused.
    assert client.post("/v1/review/claim-next").status_code == 403
    assert client.post("/v1/review/claim-next", headers={"X-CSRF-Token": "x" * 43}).status_code == 403
    assert client.post("/v1/review/claim-next", headers={**csrf, "Origin": "https://evil.example"}).status_code == 403
    assert client.post("/v1/review/claim-next", headers={**csrf, "Origin": "http://testserver"}).status_code == 200
    # A tampered cookie is no login at all.
    value = client.cookies.get("proofing_console") or ""
    client.cookies.set("proofing_console", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert client.get("/v1/review/cases").status_code == 401
    client.cookies.clear()
    client.cookies.set("proofing_console", "eyJ1IjoiYWRhIn0.x")  # {"u":"ada"}, unsigned
    assert client.get("/v1/review/cases").status_code == 401


# -- uploads ---------------------------------------------------------------------------------


def _upload(client: TestClient, sid: str, auth: dict[str, str], *files: tuple[str, bytes, str],
            kind: str = "document") -> tuple[int, str]:
    r = client.post(f"/v1/sessions/{sid}/{kind}", headers=auth, files=[("frames", f) for f in files])
    return r.status_code, r.json().get("error", "")


def test_upload_limits(client: TestClient) -> None:
    sid, auth, _ = st.new_session(client)
    big = b"\xff\xd8\xff\xe0" + b"\0" * (SMALL + 10)
    assert _upload(client, sid, auth, ("big.jpg", big, "image/jpeg"))[0] == 413
    many = [(f"{i}.jpg", st.jpeg(seed=i), "image/jpeg") for i in range(5)]
    assert _upload(client, sid, auth, *many)[0] == 413
    # A body larger than every frame at its limit is cut off from Content-Length alone.
    huge = client.post(f"/v1/sessions/{sid}/selfie", headers={**auth, "Content-Type": "multipart/form-data; boundary=x"},
                       content=b"x" * (5 * (SMALL + 1024) + 300_000))
    assert huge.status_code == 413
    # Wrong type by content, whatever the name and declared type say.
    gif = b"GIF89a" + b"\0" * 100
    pdf = b"%PDF-1.4\n" + b"\0" * 100
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    for data in (gif, pdf, svg, b"MZ\x90\x00" + b"\0" * 64):
        assert _upload(client, sid, auth, ("photo.jpg", data, "image/jpeg")) == (415, "UPLOAD_NOT_AN_IMAGE")
    # Decompression bomb: a valid 100-megapixel PNG of ~100 kB.
    bomb = st.png_bomb()
    assert len(bomb) < SMALL
    assert _upload(client, sid, auth, ("bomb.png", bomb, "image/png")) == (422, "UPLOAD_TOO_MANY_PIXELS")
    r = client.post(f"/v1/sessions/{sid}/document/preview", headers=auth, files={"frame": ("b.png", bomb, "image/png")})
    assert r.status_code == 422
    # Undecodable: the right magic bytes, then garbage.
    assert _upload(client, sid, auth, ("x.png", b"\x89PNG\r\n\x1a\n" + b"\x01" * 200, "image/png"))[0] == 422
    assert _upload(client, sid, auth, ("e.jpg", b"", "image/jpeg"))[0] in (413, 422)
    # None of that was stored; a good frame still is.
    assert client.get(f"/v1/sessions/{sid}", headers=auth).json()["counts"] == {}
    assert _upload(client, sid, auth, ("ok.jpg", st.jpeg(), "image/jpeg"))[0] == 201


def test_hostile_ids_names_and_queries(client: TestClient, store: ReviewStore, tmp_path: Path) -> None:
    sid, auth, _ = st.new_session(client)
    for bad in ("..%2F..%2Fetc%2Fpasswd", "%2e%2e", "1%20OR%201%3D1", "'%3B%20DROP%20TABLE%20intake_sessions%3B--",
                "x" * 300, "%00", sid.upper() + "'--"):
        r = client.get(f"/v1/sessions/{bad}", headers=auth)
        assert r.status_code in (404, 422), (bad, r.status_code)
        assert r.json()["error"] in ("not_found", "invalid_request")
    # A hostile file name is ignored: the upload is stored under an id, never under its name.
    name = "../../../../tmp/evil.jpg"
    r = client.post(f"/v1/sessions/{sid}/document", headers=auth, files=[("frames", (name, st.jpeg(), "image/jpeg"))])
    assert r.status_code == 201
    assert not list(tmp_path.rglob("evil.jpg")) and not Path("/tmp/evil.jpg").exists()
    # Chip file names are a closed set.
    r = client.post(f"/v1/sessions/{sid}/chip", headers=auth, json={"files": {"../../DG1": "AAAA", "EF.SOD": "AAAA"}})
    assert r.status_code == 422

    case_id = rt.new_case(store)
    csrf = st.login(client, store, "alice")
    for bad in ("..%2F..%2Fsecret_key", "1%27%20OR%20%271%27%3D%271", case_id + "%27--"):
        assert client.get(f"/v1/review/cases/{bad}").status_code in (404, 422)
        assert client.get(f"/v1/review/cases/{case_id}/evidence/{bad}").status_code in (404, 422)
    r = client.get("/v1/review/cases", params={"status": "queued' OR '1'='1"})
    assert r.status_code == 422
    other = rt.new_case(store)
    client.post(f"/v1/review/cases/{case_id}/claim", headers=csrf)
    other_evidence = client.get(f"/v1/review/cases/{other}").json()["evidence"][0]["id"]
    # Evidence of another case through this case's URL: not found, not served.
    assert client.get(f"/v1/review/cases/{case_id}/evidence/{other_evidence}").status_code == 404
    r = client.post("/v1/auth/login", json={"username": "' OR '1'='1' --", "password": "' OR '1'='1' --"})
    assert r.status_code == 403
    r = client.post(f"/v1/review/cases/{case_id}/decide", headers=csrf,
                    json={"decision": "ACCEPT'; DROP TABLE review_cases;--", "reason": "x"})
    assert r.status_code == 422
    # The store is intact and the audit chain verifies.
    from proofing.review import verify_audit

    assert client.get("/v1/review/cases").status_code == 200 and verify_audit(store).ok


def test_rate_limits_hold_across_processes(client: TestClient, store: ReviewStore, tmp_path: Path, db_url: str) -> None:
    from proofing.review import open_store

    st.app_of(client).state.rate_limits["session_create"] = Rate(3, 600)
    # A second API "process": its own app, engine and connection pool on the same database.
    other_store = open_store(db_url, settings=rt.settings_for(tmp_path / "data"), clock=store.clock)
    try:
        with st.client_for(st.settings_for(tmp_path / "data", db_url), other_store) as second:
            st.app_of(second).state.rate_limits["session_create"] = Rate(3, 600)
            codes = [c.post("/v1/sessions").status_code for c in (client, second, client, second)]
    finally:
        other_store.close()
    assert codes == [201, 201, 201, 429]
    r = client.post("/v1/sessions")
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    st.app_of(client).state.rate_limits["login_user"] = Rate(2, 600)
    for _ in range(2):
        assert client.post("/v1/auth/login", json={"username": "alice", "password": "wrong password!"}).status_code == 403
    assert client.post("/v1/auth/login", json={"username": "alice", "password": "wrong password!"}).status_code == 429


def test_security_headers(client: TestClient) -> None:
    for path in ("/", "/healthz", "/v1/sessions/x"):
        h = client.get(path).headers
        assert "frame-ancestors 'none'" in h["content-security-policy"] and "script-src 'self'" in h["content-security-policy"]
        assert h["x-content-type-options"] == "nosniff" and h["x-frame-options"] == "DENY"
        assert h["referrer-policy"] == "no-referrer" and "camera=(self)" in h["permissions-policy"]
        assert h["cache-control"] == "no-store" and "server" not in h


# -- no personal data in the logs of a whole session -------------------------------------------


class Capture(logging.Handler):
    """Every record of every logger, formatted as the service writes it, plus the raw text."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.raw: list[str] = []
        self.fmt = JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.fmt.format(record))
        self.raw.append(record.getMessage())


@pytest.mark.slow
@pytest.mark.shared
def test_full_demo_session_logs_no_personal_data(tmp_path: Path, models_dir: Path) -> None:
    import base64

    from proofing.review import open_store

    db = f"sqlite:///{tmp_path / 'p.db'}"
    settings = st.settings_for(tmp_path / "data", db)
    store = open_store(db, settings=settings)
    capture = Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    try:
        with st.client_for(settings, store) as client:
            sid, auth, challenge = st.new_session(client)
            demo = st.demo_evidence(challenge)
            st.app_of(client).state.pipeline_context = st.trust_context(demo["csca_der"])
            r = client.post(f"/v1/sessions/{sid}/document/preview", headers=auth,
                            files={"frame": ("page.jpg", demo["page"], "image/jpeg")})
            assert r.status_code == 200, r.text
            assert client.post(f"/v1/sessions/{sid}/document", headers=auth,
                               files=[("frames", ("page.jpg", demo["page"], "image/jpeg"))]).status_code == 201
            chip = {"files": {k: base64.b64encode(v).decode() for k, v in demo["chip_files"].items()},
                    "aa_signature": base64.b64encode(demo["aa_signature"]).decode()}
            assert client.post(f"/v1/sessions/{sid}/chip", headers=auth, json=chip).status_code == 201
            assert client.post(f"/v1/sessions/{sid}/selfie", headers=auth,
                               files=[("frames", (f"{i}.jpg", f, "image/jpeg")) for i, f in enumerate(demo["selfie"])]
                               ).status_code == 201
            assert client.post(f"/v1/sessions/{sid}/submit", headers=auth).status_code == 202
            st.wait_processed(client)
            status = client.get(f"/v1/sessions/{sid}", headers=auth).json()
            assert status["status"] == "decided", status
            assert status["decision"] in ("ACCEPT", "REVIEW", "REJECT")
            print("demo session decision", status["decision"], [r["code"] for r in status["reasons"]])
            token = client.get(status["evidence_url"], headers=auth).text
            # A reviewer opens the case (filed for every decision) and its evidence.
            csrf = st.login(client, store, "ada") if _add_admin(store) else {}
            cases = client.get("/v1/review/cases").json()
            case = next(c for c in cases if c["session_id"] == sid)
            detail = client.get(f"/v1/review/cases/{case['id']}").json()
            assert detail["scores"] and any(s["threshold"] is not None for s in detail["scores"])
            assert detail["fields"], "the admin sees MRZ vs chip fields"
            for e in detail["evidence"]:
                assert client.get(f"/v1/review/cases/{case['id']}/evidence/{e['id']}").status_code == 200
            assert client.post("/v1/auth/logout", headers=csrf).status_code == 204
    finally:
        root.removeHandler(capture)
        root.setLevel(old_level)
        store.close()
    secrets = [s for s in demo["secrets"] if s] + [auth["Authorization"].split()[1], token]
    secrets += [base64.b64encode(demo["page"][:60]).decode()[:40], base64.b64encode(demo["chip_files"]["DG1"]).decode()[:16]]
    assert any('"event":"request"' in line for line in capture.lines)
    assert any(sid in line for line in capture.lines), "session ids are logged"
    for text in capture.lines:
        for secret in secrets:
            assert secret not in text, f"personal data or a secret in the log: {text[:200]}"
    for text in capture.raw:  # not even in a record our formatter would have dropped
        for secret in secrets:
            assert secret not in text


def _add_admin(store: ReviewStore) -> bool:
    from proofing.review import add_user

    add_user(store, "ada", "admin")
    return True
