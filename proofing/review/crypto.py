"""Evidence encryption at rest: AES-256-GCM with keys from settings.

A blob is ``MAGIC | len(key_id) | key_id | nonce | ciphertext+tag``: the key id travels
with the ciphertext so that old keys keep decrypting after a rotation. The associated
data binds a blob to its case and kind, so a ciphertext copied onto another case (or
relabelled from "selfie" to "document_image") fails to decrypt.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from proofing.settings import Settings

log = logging.getLogger(__name__)

MAGIC = b"PRE1"
NONCE_LEN = 12
KEY_FILE = "evidence.key"


class EvidenceKeyError(Exception):
    """A key is missing, malformed or does not open a blob."""


def aad(case_id: str, kind: str) -> bytes:
    return f"proofing-evidence/v1|{case_id}|{kind}".encode()


@dataclass(frozen=True)
class Keyring:
    """Evidence keys by id; the first is current (encrypts), all of them decrypt."""

    keys: tuple[tuple[str, bytes], ...] = field(repr=False)
    #: True when the key was generated into the data dir by this call (tell the operator).
    generated: bool = False

    def __post_init__(self) -> None:
        if not self.keys:
            raise EvidenceKeyError("no evidence key configured")
        for kid, key in self.keys:
            if not kid or ":" in kid or "," in kid or len(kid.encode()) > 64:
                raise EvidenceKeyError(f"bad evidence key id {kid!r}")
            if len(key) != 32:
                raise EvidenceKeyError(f"evidence key {kid!r} must be 32 bytes (AES-256), got {len(key)}")

    def __repr__(self) -> str:
        return f"Keyring(ids={[k for k, _ in self.keys]})"

    @property
    def current_id(self) -> str:
        return self.keys[0][0]

    def _key(self, kid: str) -> bytes:
        for k, key in self.keys:
            if k == kid:
                return key
        raise EvidenceKeyError(f"evidence key {kid!r} is not configured (PROOFING_EVIDENCE_KEYS)")

    def encrypt(self, plaintext: bytes, case_id: str, kind: str) -> bytes:
        kid = self.current_id
        nonce = os.urandom(NONCE_LEN)
        ct = AESGCM(self._key(kid)).encrypt(nonce, plaintext, aad(case_id, kind))
        raw = kid.encode()
        return MAGIC + bytes([len(raw)]) + raw + nonce + ct

    def decrypt(self, blob: bytes, case_id: str, kind: str) -> bytes:
        kid, nonce, ct = split_blob(blob)
        try:
            return AESGCM(self._key(kid)).decrypt(nonce, ct, aad(case_id, kind))
        except InvalidTag:
            raise EvidenceKeyError("evidence blob does not authenticate (wrong key, case or kind)") from None

    @classmethod
    def parse(cls, spec: str) -> Keyring:
        """``id:base64key,id2:base64key`` as in ``PROOFING_EVIDENCE_KEYS``."""
        keys: list[tuple[str, bytes]] = []
        for item in spec.split(","):
            item = item.strip()
            if not item:
                continue
            kid, sep, b64 = item.partition(":")
            if not sep:
                raise EvidenceKeyError("evidence keys are 'id:base64key' items separated by commas")
            try:
                key = base64.b64decode(b64.strip(), validate=True)
            except binascii.Error:
                raise EvidenceKeyError(f"evidence key {kid.strip()!r} is not valid base64") from None
            keys.append((kid.strip(), key))
        if len({k for k, _ in keys}) != len(keys):
            raise EvidenceKeyError("duplicate evidence key id")
        return cls(tuple(keys))


def key_id_of(blob: bytes) -> str:
    return split_blob(blob)[0]


def split_blob(blob: bytes) -> tuple[str, bytes, bytes]:
    if len(blob) < len(MAGIC) + 1 or not blob.startswith(MAGIC):
        raise EvidenceKeyError("not an evidence blob")
    n = blob[len(MAGIC)]
    start = len(MAGIC) + 1
    kid = blob[start : start + n].decode()
    nonce = blob[start + n : start + n + NONCE_LEN]
    return kid, nonce, blob[start + n + NONCE_LEN :]


def new_key_spec(kid: str | None = None) -> str:
    """A fresh ``id:base64key`` item (for an operator adding a key before a rotation)."""
    kid = kid or "k" + secrets.token_hex(4)
    return f"{kid}:{base64.b64encode(os.urandom(32)).decode()}"


def keyring_from_settings(settings: Settings) -> Keyring:
    """The configured keys; for the embedded default only (no database URL set), a key
    generated once into ``data_dir`` with mode 0600. A deployment with its own database
    must configure its keys: a key generated on one API host would not open blobs on another."""
    if settings.evidence_keys:
        return Keyring.parse(settings.evidence_keys)
    if settings.database_url is not None:
        raise EvidenceKeyError("PROOFING_EVIDENCE_KEYS is required when PROOFING_DATABASE_URL is set")
    path = settings.data_dir / KEY_FILE
    if path.exists():
        return Keyring.parse(path.read_text())
    _write_private(path, new_key_spec("local1") + "\n")
    log.warning("generated an evidence key at %s (mode 0600); back it up", path)
    return Keyring(Keyring.parse(path.read_text()).keys, generated=True)


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
