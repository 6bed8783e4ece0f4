"""Compact JWS (RFC 7515) with ES256 over P-256, the signature as raw r||s (RFC 7518 3.4).

Small on purpose: one algorithm, no "none", no header-chosen keys. A verifier picks the
key by ``kid`` from the published JWK set and refuses anything else.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

ALG = "ES256"
TYP = "proofing-evidence+jws"


class JwsError(ValueError):
    """The record is malformed, signed by an unknown key, or its signature does not verify."""


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise JwsError("not base64url") from exc


def public_jwk(key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    if not isinstance(key.curve, ec.SECP256R1):
        raise JwsError("ES256 needs a P-256 key")
    nums = key.public_numbers()
    jwk = {"kty": "EC", "crv": "P-256", "x": b64u(nums.x.to_bytes(32, "big")), "y": b64u(nums.y.to_bytes(32, "big"))}
    return {**jwk, "kid": thumbprint(jwk), "use": "sig", "alg": ALG}


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638: sha256 over the required members in lexicographic order."""
    canon = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True)
    return b64u(hashlib.sha256(canon.encode()).digest())


def key_from_jwk(jwk: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise JwsError("only EC P-256 keys are accepted")
    x, y = (int.from_bytes(unb64u(str(jwk[c])), "big") for c in ("x", "y"))
    try:
        return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    except ValueError as exc:
        raise JwsError("the JWK is not a point on P-256") from exc


def sign(payload: dict[str, Any], key: ec.EllipticCurvePrivateKey) -> str:
    header = {"alg": ALG, "typ": TYP, "kid": public_jwk(key.public_key())["kid"]}
    signing_input = f"{b64u(_canon(header))}.{b64u(_canon(payload))}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64u(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def verify(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    """The payload when ``token`` is a valid ES256 JWS by a key in ``jwks``; JwsError otherwise."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise JwsError("a compact JWS has three parts")
    try:
        header = json.loads(unb64u(parts[0]))
        payload = json.loads(unb64u(parts[1]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise JwsError("header or payload is not JSON") from exc
    if not isinstance(header, dict) or header.get("alg") != ALG:
        raise JwsError(f"only {ALG} is accepted, not {header.get('alg') if isinstance(header, dict) else '?'}")
    if set(header) - {"alg", "typ", "kid"}:
        raise JwsError("unexpected header members (crit, jwk, x5u ... are not honoured)")
    keys = [k for k in jwks.get("keys", []) if k.get("kid") == header.get("kid")]
    if not keys:
        raise JwsError(f"signed by an unknown key {header.get('kid')!r}")
    sig = unb64u(parts[2])
    if len(sig) != 64:
        raise JwsError("an ES256 signature is 64 bytes")
    der = encode_dss_signature(int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big"))
    try:
        key_from_jwk(keys[0]).verify(der, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise JwsError("the signature does not verify") from None
    if not isinstance(payload, dict):
        raise JwsError("the payload is not a JSON object")
    return payload


def _canon(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
