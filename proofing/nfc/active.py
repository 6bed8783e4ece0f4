"""Active Authentication (ICAO 9303 Part 11 6.1): the chip signs the terminal's challenge.

Verification proves the chip holds the private key matching DG15 (so the chip is not a
clone of the data). RSA keys use ISO/IEC 9796-2 digital signature scheme 1 with partial
message recovery: the signature opens to ``6A || M1 || H(M1 || challenge) || trailer``;
trailer ``BC`` means SHA-1, ``xx CC`` names the hash by its ISO/IEC 10118 id. EC keys sign
plainly (r || s, BSI TR-03111) with the hash named in DG14's ActiveAuthenticationInfo.
The matching signing functions serve the virtual test chip.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from proofing.nfc.lds.errors import LdsError
from proofing.nfc.lds.keys import HASHES, PublicKeyInfo, verify_ecdsa_rs
from proofing.nfc.lds.security_infos import SecurityInfos

#: ISO/IEC 10118 hash identifiers used in the two-byte 9796-2 trailer.
TRAILER_HASH_IDS: dict[int, str] = {
    0x33: "sha1",
    0x38: "sha224",
    0x34: "sha256",
    0x36: "sha384",
    0x35: "sha512",
}
TRAILER_ID_BY_HASH = {v: k for k, v in TRAILER_HASH_IDS.items()}
_PARTIAL_RECOVERY_HEADER = 0x6A


@dataclass(frozen=True)
class Recovered:
    """What a 9796-2 message representative opened to."""

    hash_name: str
    m1: bytes
    digest: bytes
    valid: bool


@dataclass(frozen=True)
class AaResult:
    performed: bool
    valid: bool
    algorithm: str | None = None  # "rsa-iso9796-2" | "ecdsa-plain"
    hash_name: str | None = None
    reasons: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "performed": self.performed,
            "valid": self.valid,
            "algorithm": self.algorithm,
            "hash": self.hash_name,
            "reasons": self.reasons,
        }


def encode_representative(m1: bytes, challenge: bytes, hash_name: str, modulus_bytes: int) -> bytes:
    """F = 6A || M1 || H(M1 || challenge) || trailer; M1 must fill the rest of the modulus."""
    digest = hashlib.new(hash_name, m1 + challenge).digest()
    trailer = b"\xbc" if hash_name == "sha1" else bytes([TRAILER_ID_BY_HASH[hash_name], 0xCC])
    f = bytes([_PARTIAL_RECOVERY_HEADER]) + m1 + digest + trailer
    if len(f) != modulus_bytes:
        raise ValueError(f"M1 of {len(m1)} bytes does not fill a {modulus_bytes}-byte modulus")
    return f


def recover_representative(f: bytes, challenge: bytes) -> Recovered:
    """Open F and check the hash over M1 || challenge; LdsError when F is not a 9796-2 string."""
    if len(f) < 2:
        raise LdsError("9796-2: message representative too short")
    if f[-1] == 0xBC:
        hash_name, t = "sha1", 1
    elif f[-1] == 0xCC and f[-2] in TRAILER_HASH_IDS:
        hash_name, t = TRAILER_HASH_IDS[f[-2]], 2
    else:
        raise LdsError("9796-2: unknown trailer")
    if f[0] & 0xC0 != 0x40:
        raise LdsError("9796-2: bad header")
    size = hashlib.new(hash_name).digest_size
    if len(f) < 1 + size + t:
        raise LdsError("9796-2: message representative too short")
    m1 = f[1 : len(f) - size - t]
    digest = f[len(f) - size - t : len(f) - t]
    ok = hashlib.new(hash_name, m1 + challenge).digest() == digest
    return Recovered(hash_name, m1, digest, ok)


def _rsa_verify(key: PublicKeyInfo, challenge: bytes, signature: bytes) -> AaResult:
    assert key.rsa_n is not None and key.rsa_e is not None
    n, e = key.rsa_n, key.rsa_e
    size = (n.bit_length() + 7) // 8
    s = int.from_bytes(signature, "big")
    if len(signature) > size or s >= n:
        return AaResult(True, False, "rsa-iso9796-2", None, ["AA_SIGNATURE_MALFORMED"])
    value = pow(s, e, n)
    for candidate in (value, n - value):  # 9796-2 allows the signer to send min(s, n - s)
        f = candidate.to_bytes(size, "big")
        try:
            rec = recover_representative(f, challenge)
        except LdsError:
            continue
        reasons = [] if rec.valid else ["AA_SIGNATURE_INVALID"]
        return AaResult(True, rec.valid, "rsa-iso9796-2", rec.hash_name, reasons)
    return AaResult(True, False, "rsa-iso9796-2", None, ["AA_SIGNATURE_INVALID"])


def _ec_verify(
    key: PublicKeyInfo, challenge: bytes, signature: bytes, hash_name: str | None
) -> AaResult:
    assert key.curve is not None
    half = key.curve.order_bytes
    if len(signature) != 2 * half:
        return AaResult(True, False, "ecdsa-plain", hash_name, ["AA_SIGNATURE_MALFORMED"])
    r, s = int.from_bytes(signature[:half], "big"), int.from_bytes(signature[half:], "big")
    candidates = [hash_name] if hash_name else list(HASHES)
    for name in candidates:
        if verify_ecdsa_rs(key, hashlib.new(name, challenge).digest(), r, s):
            reasons = [] if hash_name else ["AA_HASH_NOT_IN_DG14"]
            return AaResult(True, True, "ecdsa-plain", name, reasons)
    return AaResult(True, False, "ecdsa-plain", hash_name, ["AA_SIGNATURE_INVALID"])


def verify_active_authentication(
    key: PublicKeyInfo, challenge: bytes, signature: bytes, dg14: SecurityInfos | None = None
) -> AaResult:
    """Check the chip's signature over *our* challenge with the DG15 key."""
    if key.algorithm == "rsa":
        return _rsa_verify(key, challenge, signature)
    if key.algorithm == "ec":
        info = dg14.active_authentication if dg14 else None
        hash_name = info.hash_name if info else None
        if info is not None and hash_name is None:
            return AaResult(True, False, "ecdsa-plain", None, ["AA_ALGORITHM_UNSUPPORTED"])
        return _ec_verify(key, challenge, signature, hash_name)
    return AaResult(True, False, None, None, ["AA_KEY_UNSUPPORTED"])


def sign_active_authentication(
    private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
    challenge: bytes,
    *,
    hash_name: str = "sha1",
    m1: bytes | None = None,
) -> bytes:
    """What a chip answers to INTERNAL AUTHENTICATE (RSA 9796-2 scheme 1, or plain ECDSA)."""
    if isinstance(private_key, rsa.RSAPrivateKey):
        numbers = private_key.private_numbers()
        n = numbers.public_numbers.n
        if n.bit_length() % 8 != 0:
            raise ValueError("signing supports moduli of a whole number of bytes")
        size = n.bit_length() // 8
        t = 1 if hash_name == "sha1" else 2
        m1_len = size - 1 - hashlib.new(hash_name).digest_size - t
        f = encode_representative(
            m1 if m1 is not None else os.urandom(m1_len), challenge, hash_name, size
        )
        return pow(int.from_bytes(f, "big"), numbers.d, n).to_bytes(size, "big")
    der = private_key.sign(challenge, ec.ECDSA(HASHES[hash_name]()))
    r, s = decode_dss_signature(der)
    half = (private_key.curve.key_size + 7) // 8
    return r.to_bytes(half, "big") + s.to_bytes(half, "big")
