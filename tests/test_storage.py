"""Blob storage by URL: the filesystem default, ``file:///path``, and ``s3://bucket/prefix``
against a real S3-compatible HTTP server run on loopback (moto's server mode), through
boto3 with its standard environment variables, including a whole case store on S3."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from proofing.review.storage import (
    FilesystemStorage,
    S3Storage,
    storage_from_settings,
    storage_from_url,
)
from proofing.review.testing import KEYS
from proofing.settings import Settings


def test_storage_urls(tmp_path: Path) -> None:
    default = storage_from_settings(Settings(data_dir=tmp_path))
    assert isinstance(default, FilesystemStorage) and default.root == tmp_path / "evidence"
    other = storage_from_url(f"file://{tmp_path / 'blobs dir'}".replace(" ", "%20"), tmp_path)
    assert isinstance(other, FilesystemStorage) and other.root == tmp_path / "blobs dir"
    s3 = storage_from_url("s3://bucket/some/prefix/", tmp_path)
    assert isinstance(s3, S3Storage) and (s3.bucket, s3.prefix) == ("bucket", "some/prefix/")
    assert storage_from_url("s3://bucket", tmp_path).prefix == ""  # type: ignore[attr-defined]
    for bad in ("file://host/x", "file:relative", "ftp://x/y", "s3:///no-bucket"):
        with pytest.raises(ValueError):
            storage_from_url(bad, tmp_path)


@pytest.fixture(scope="module")
def s3_server() -> Iterator[str]:
    pytest.importorskip("boto3", reason="boto3 is not installed (the s3:// backend needs it)")
    server_mod = pytest.importorskip("moto.server", reason="moto[server] is not installed (the local S3 server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture()
def s3_env(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """boto3's standard variables pointing at the local server; a fresh bucket."""
    import uuid

    import boto3

    for name, value in {"AWS_ENDPOINT_URL": s3_server, "AWS_ACCESS_KEY_ID": "test",
                        "AWS_SECRET_ACCESS_KEY": "test-secret", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL_S3", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    bucket = f"proofing-{uuid.uuid4().hex[:8]}"
    boto3.session.Session().client("s3").create_bucket(Bucket=bucket)
    return bucket


def test_s3_backend_roundtrip(s3_env: str) -> None:
    import boto3

    storage = storage_from_url(f"s3://{s3_env}/evidence", Path("/nonexistent"))
    assert isinstance(storage, S3Storage)
    storage.put("case/abc/1", b"\x00ciphertext\xff")
    assert storage.exists("case/abc/1") and not storage.exists("case/abc/2")
    assert storage.get("case/abc/1") == b"\x00ciphertext\xff"
    raw = boto3.session.Session().client("s3").get_object(Bucket=s3_env, Key="evidence/case/abc/1")
    assert raw["Body"].read() == b"\x00ciphertext\xff"  # the prefix is part of the object key
    with pytest.raises(FileNotFoundError):
        storage.get("case/abc/2")
    assert storage.delete("case/abc/1") is True
    assert storage.delete("case/abc/1") is False  # purges are re-run safely
    with pytest.raises(ValueError):
        storage.put("../escape", b"x")


def test_case_store_on_s3(s3_env: str, tmp_path: Path) -> None:
    """A case's evidence goes to the bucket encrypted, reads back, and is erased there."""
    import boto3

    from proofing.review import open_store
    from proofing.review.cases import add_user, get_case
    from proofing.review.retention import erase_session
    from proofing.review.testing import USERS, new_case, read

    settings = Settings(data_dir=tmp_path / "data", evidence_keys=KEYS, storage_url=f"s3://{s3_env}/p")
    store = open_store(f"sqlite:///{tmp_path / 'review.db'}", settings=settings)
    try:
        assert isinstance(store.storage, S3Storage)
        for name, role in USERS.items():
            add_user(store, name, role)
        case_id = new_case(store, session_id="s-on-s3")
        client = boto3.session.Session().client("s3")
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=s3_env).get("Contents", [])]
        assert len(keys) == 3 and all(k.startswith("p/") for k in keys)
        blobs = [client.get_object(Bucket=s3_env, Key=k)["Body"].read() for k in keys]
        assert not any(b"doc-" in b or b"selfie-" in b for b in blobs)  # ciphertext only
        view = get_case(store, case_id, "ada")
        doc = next(e for e in view.evidence if e.kind == "document_image")
        assert read(store, doc.id).startswith(b"\xff\xd8doc-")
        assert not (tmp_path / "data" / "evidence").exists()
        erase_session(store, "s-on-s3", actor="ada", reason="test erasure")
        assert client.list_objects_v2(Bucket=s3_env).get("KeyCount", 0) == 0
    finally:
        store.close()
