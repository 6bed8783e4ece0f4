"""Where encrypted evidence bytes live. Only ciphertext passes through here; the database
keeps metadata and hashes. A small protocol with two backends: the local filesystem (the
embedded default) and any S3-compatible object store, chosen by ``PROOFING_STORAGE_URL``."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from proofing.settings import Settings

_KEY = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_.-]+)*$")


def check_key(key: str) -> str:
    if not _KEY.match(key) or ".." in key:
        raise ValueError(f"bad storage key {key!r}")
    return key


class BlobStorage(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> bool:
        """Remove the blob; False when it was already gone (purges are re-run safely)."""
        ...

    def exists(self, key: str) -> bool: ...


class FilesystemStorage:
    """Blobs as files under ``root`` (mode 0600, directories 0700), written atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> bool:
        try:
            self._path(key).unlink()
        except FileNotFoundError:
            return False
        return True

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()


class S3Storage:
    """Blobs as objects ``prefix/key`` in an S3-compatible bucket (AWS, MinIO, Ceph, ...).

    The endpoint, region and credentials come from boto3's usual sources (``AWS_ENDPOINT_URL``
    or ``AWS_ENDPOINT_URL_S3``, ``AWS_REGION``, ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY``,
    profiles, instance roles), so no secret passes through the project's settings. The
    client is made per process: boto3 clients are thread-safe but must not cross a fork.
    A missing object raises FileNotFoundError, like the filesystem backend.
    """

    def __init__(self, bucket: str, prefix: str = "", client: Any = None) -> None:
        if not bucket:
            raise ValueError("an s3:// storage URL needs a bucket: s3://bucket/prefix")
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._client = client
        self._pid = os.getpid() if client is not None else None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                try:
                    import boto3
                except ImportError:  # pragma: no cover - an optional dependency
                    raise RuntimeError("s3:// storage needs boto3 (pip install boto3)") from None
                self._client = boto3.session.Session().client("s3")
                self._pid = os.getpid()
            return self._client

    def _key(self, key: str) -> str:
        return self.prefix + check_key(key)

    @staticmethod
    def _missing(exc: Exception) -> bool:
        code = str(getattr(exc, "response", {}).get("Error", {}).get("Code", ""))
        return code in ("404", "NoSuchKey", "NotFound")

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data,
                               ContentType="application/octet-stream")

    def get(self, key: str) -> bytes:
        try:
            obj = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            if self._missing(exc):
                raise FileNotFoundError(f"no blob {key!r} in s3://{self.bucket}/{self.prefix}") from exc
            raise
        data: bytes = obj["Body"].read()
        return data

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            if self._missing(exc):
                return False
            raise
        return True

    def delete(self, key: str) -> bool:
        # S3's DELETE succeeds whether or not the object was there; ask first so purges can
        # count what they removed (a race only miscounts, it never keeps a blob).
        existed = self.exists(key)
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        return existed


def storage_from_url(url: str | None, default_root: Path) -> BlobStorage:
    """``None`` -> ``default_root``; ``file:///path``; ``s3://bucket/prefix``."""
    if not url:
        return FilesystemStorage(default_root)
    parts = urlsplit(url)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError(f"storage URL {url!r}: use file:///absolute/path")
        return FilesystemStorage(Path(unquote(parts.path)))
    if parts.scheme == "s3":
        return S3Storage(parts.netloc, unquote(parts.path))
    raise ValueError(f"storage URL {url!r}: expected file:///path or s3://bucket/prefix")


def storage_from_settings(settings: Settings) -> BlobStorage:
    """The blob storage that ``PROOFING_STORAGE_URL`` names (data_dir/evidence when unset)."""
    return storage_from_url(settings.storage_url, settings.data_dir / "evidence")
