"""The symmetric primitives of ICAO 9303 Part 11 (BAC, PACE, secure messaging, CA).

3DES and AES in CBC mode, ISO/IEC 9797-1 padding method 2, the retail MAC (ISO/IEC 9797-1
MAC algorithm 3 over single DES), AES-CMAC and the key derivation function of Part 11
section 9.7.1. Only the ``cryptography`` library is used; the functions are plain and
stateless so the chip side (the virtual chip) and the terminal side share them.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Literal

from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC

CipherName = Literal["3DES", "AES"]

#: KDF counters (ICAO 9303 Part 11, 9.7.1).
KDF_ENC = 1
KDF_MAC = 2
KDF_PI = 3


def pad(data: bytes, block: int = 8) -> bytes:
    """ISO/IEC 9797-1 padding method 2: append 0x80, then zeros up to a block boundary."""
    data = data + b"\x80"
    return data + b"\x00" * (-len(data) % block)


def unpad(data: bytes) -> bytes:
    """Remove method-2 padding; raises ValueError when the padding is malformed."""
    stripped = data.rstrip(b"\x00")
    if not stripped or stripped[-1] != 0x80:
        raise ValueError("bad ISO 9797-1 method 2 padding")
    return stripped[:-1]


def _des3(key: bytes) -> TripleDES:
    if len(key) not in (8, 16, 24):
        raise ValueError("3DES key must be 8, 16 or 24 bytes")
    # Two-key 3DES as K1 K2 K1 (the 16-byte form is deprecated in cryptography).
    return TripleDES(key * 3 if len(key) == 8 else key + key[:8] if len(key) == 16 else key)


def des3_cbc_encrypt(key: bytes, data: bytes, iv: bytes = bytes(8)) -> bytes:
    enc = Cipher(_des3(key), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def des3_cbc_decrypt(key: bytes, data: bytes, iv: bytes = bytes(8)) -> bytes:
    dec = Cipher(_des3(key), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def aes_cbc_encrypt(key: bytes, data: bytes, iv: bytes = bytes(16)) -> bytes:
    enc = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return enc.update(data) + enc.finalize()


def aes_cbc_decrypt(key: bytes, data: bytes, iv: bytes = bytes(16)) -> bytes:
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    return dec.update(data) + dec.finalize()


def aes_ecb_block(key: bytes, block: bytes) -> bytes:
    """One AES block encryption (the SM IV is E(KS_enc, SSC))."""
    enc = Cipher(algorithms.AES(key), modes.ECB()).encryptor()
    return enc.update(block) + enc.finalize()


def retail_mac(key: bytes, data: bytes, *, padded: bool = False) -> bytes:
    """ISO/IEC 9797-1 MAC algorithm 3 with DES: CBC with K1, then decrypt K2, encrypt K1.

    ``data`` is padded (method 2) here unless the caller says it already is.
    """
    if len(key) != 16:
        raise ValueError("retail MAC key must be 16 bytes (K1 || K2)")
    if not padded:
        data = pad(data, 8)
    if len(data) % 8:
        raise ValueError("retail MAC input is not a multiple of 8 bytes")
    k1, k2 = key[:8], key[8:]
    h = des3_cbc_encrypt(k1, data)[-8:]
    h = des3_cbc_decrypt(k2, h)
    return des3_cbc_encrypt(k1, h)


def aes_cmac(key: bytes, data: bytes) -> bytes:
    """AES-CMAC (NIST SP 800-38B), the full 16 bytes; SM and PACE use the first 8."""
    c = CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()


def mac(cipher: CipherName, key: bytes, data: bytes) -> bytes:
    """The 8-byte MAC ICAO uses for ``cipher``; ``data`` is padded here (method 2)."""
    if cipher == "3DES":
        return retail_mac(key, data)
    return aes_cmac(key, pad(data, 16))[:8]


def token_mac(cipher: CipherName, key: bytes, data: bytes) -> bytes:
    """The 8-byte MAC of PACE / CA authentication tokens: retail MAC over padded data for
    3DES, but AES-CMAC over the data *without* ISO padding (CMAC pads by itself)."""
    if cipher == "3DES":
        return retail_mac(key, data)
    return aes_cmac(key, data)[:8]


def adjust_parity(key: bytes) -> bytes:
    """Set the DES odd-parity bit (least significant) of every key byte."""
    out = bytearray()
    for b in key:
        hi = b & 0xFE
        out.append(hi | (bin(hi).count("1") + 1) % 2)
    return bytes(out)


def kdf(secret: bytes, counter: int, cipher: CipherName = "3DES", key_bits: int = 128,
        nonce: bytes = b"") -> bytes:
    """ICAO 9303 Part 11 9.7.1: keydata = H(secret || [nonce] || counter (32-bit BE)).

    3DES and AES-128 use SHA-1, AES-192 and AES-256 SHA-256. 3DES keys get DES parity.
    The optional ``nonce`` is the Chip Authentication v2 (TR-03110) r_PICC.
    """
    data = secret + nonce + counter.to_bytes(4, "big")
    if cipher == "3DES":
        return adjust_parity(hashlib.sha1(data).digest()[:16])
    if key_bits == 128:
        return hashlib.sha1(data).digest()[:16]
    if key_bits in (192, 256):
        return hashlib.sha256(data).digest()[: key_bits // 8]
    raise ValueError(f"unsupported AES key size {key_bits}")


def cbc_encrypt(cipher: CipherName, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
    if cipher == "3DES":
        return des3_cbc_encrypt(key, data, iv or bytes(8))
    return aes_cbc_encrypt(key, data, iv or bytes(16))


def cbc_decrypt(cipher: CipherName, key: bytes, data: bytes, iv: bytes | None = None) -> bytes:
    if cipher == "3DES":
        return des3_cbc_decrypt(key, data, iv or bytes(8))
    return aes_cbc_decrypt(key, data, iv or bytes(16))


def block_size(cipher: CipherName) -> int:
    return 8 if cipher == "3DES" else 16


def equal(a: bytes, b: bytes) -> bool:
    """Constant-time comparison for MACs and tokens."""
    return hmac.compare_digest(a, b)
