"""The evidence signing key: a PEM file named in the settings, or one generated once into
the data dir (mode 0600) for the embedded default. Several API processes must share it,
so a deployment with its own database names the file explicitly."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from proofing.settings import Settings

log = logging.getLogger(__name__)
KEY_FILE = "evidence-signing-key.pem"


def load_signing_key(settings: Settings) -> ec.EllipticCurvePrivateKey:
    path = settings.signing_key or settings.data_dir / KEY_FILE
    if not path.exists():
        if settings.signing_key is not None:
            raise FileNotFoundError(f"PROOFING_SIGNING_KEY names {path}, which does not exist")
        _generate(path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError(f"{path}: the evidence signing key must be an EC P-256 private key")
    return key


def _generate(path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    log.warning("generated an evidence signing key at %s (mode 0600); back it up", path)
