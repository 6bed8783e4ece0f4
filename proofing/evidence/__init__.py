"""Signed evidence records: what was decided, under which policy, over which evidence.

A relying party fetches the JWK set (``/.well-known/jwks.json``) and checks a record with
:func:`verify_record` or ``proofing evidence verify``. Records hold hashes, scores and
reason codes, never names or images.
"""

from __future__ import annotations

from typing import Any

from proofing.evidence.jws import JwsError, public_jwk, sign, verify
from proofing.evidence.keys import load_signing_key
from proofing.settings import Settings, get_settings

SCHEMA = "proofing.evidence/1"


def jwks(settings: Settings | None = None) -> dict[str, Any]:
    return {"keys": [public_jwk(load_signing_key(settings or get_settings()).public_key())]}


def sign_record(record: dict[str, Any], settings: Settings | None = None) -> str:
    return sign({"schema": SCHEMA, **record}, load_signing_key(settings or get_settings()))


def verify_record(token: str, key_set: dict[str, Any]) -> dict[str, Any]:
    payload = verify(token, key_set)
    if payload.get("schema") != SCHEMA:
        raise JwsError(f"not a {SCHEMA} record")
    return payload


__all__ = ["SCHEMA", "JwsError", "jwks", "sign_record", "verify_record"]
