"""Basic Access Control (ICAO 9303 Part 11 section 4.3) and the chip access keys.

The keys come from the MRZ: document number, date of birth and date of expiry, each with
its check digit. Both sides of the mutual authentication live here: the terminal's
(:func:`bac_authenticate`) and the mirror the virtual chip uses (:func:`chip_mutual_auth`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass

from proofing.mrz.checkdigit import check_digit
from proofing.nfc import crypto
from proofing.nfc.apdu import CommandApdu
from proofing.nfc.errors import AuthenticationError, StatusError
from proofing.nfc.sm import SecureMessaging
from proofing.nfc.transport import Channel


@dataclass(frozen=True)
class MrzKey:
    """The MRZ-derived access key: document number and the two dates as YYMMDD."""

    document_number: str
    birth: str
    expiry: str

    @property
    def mrz_information(self) -> str:
        return mrz_information(self.document_number, self.birth, self.expiry)

    @classmethod
    def from_mrz_lines(cls, lines: Sequence[str]) -> MrzKey:
        from proofing.mrz.parse import parse_lines

        result = parse_lines(lines)
        if not result.found or result.fields is None:
            raise ValueError("MRZ not recognised: " + ", ".join(result.reasons))
        f = result.fields
        return cls(f.document_number, f.birth_date_raw, f.expiry_date_raw)


@dataclass(frozen=True)
class CanKey:
    """The card access number printed on the document (PACE only)."""

    can: str


AccessKey = MrzKey | CanKey


def mrz_information(document_number: str, birth: str, expiry: str) -> str:
    """Document number (padded to 9 with '<') + check digit + birth + cd + expiry + cd."""
    number = document_number.upper().replace(" ", "")
    number = number + "<" * (9 - len(number)) if len(number) < 9 else number
    for name, value in (("birth", birth), ("expiry", expiry)):
        if len(value) != 6 or not value.isdigit():
            raise ValueError(f"{name} date must be YYMMDD, got {value!r}")
    return (number + check_digit(number) + birth + check_digit(birth) + expiry
            + check_digit(expiry))


def bac_keys(mrz_info: str) -> tuple[bytes, bytes]:
    """(K_enc, K_mac) from K_seed = SHA-1(MRZ_information)[:16]."""
    kseed = hashlib.sha1(mrz_info.encode("ascii")).digest()[:16]
    return crypto.kdf(kseed, crypto.KDF_ENC), crypto.kdf(kseed, crypto.KDF_MAC)


def terminal_cryptogram(kenc: bytes, kmac: bytes, rnd_icc: bytes, rnd_ifd: bytes, k_ifd: bytes) -> bytes:
    """E_IFD || M_IFD, the data of MUTUAL AUTHENTICATE."""
    e_ifd = crypto.des3_cbc_encrypt(kenc, rnd_ifd + rnd_icc + k_ifd)
    return e_ifd + crypto.retail_mac(kmac, e_ifd)


def session_from_response(kenc: bytes, kmac: bytes, rnd_icc: bytes, rnd_ifd: bytes, k_ifd: bytes,
                          response: bytes) -> SecureMessaging:
    """Check the chip's E_IC || M_IC and derive the session keys and the SSC."""
    if len(response) != 40:
        raise AuthenticationError(f"MUTUAL AUTHENTICATE answer has {len(response)} bytes, not 40")
    e_ic, m_ic = response[:32], response[32:]
    if not crypto.equal(crypto.retail_mac(kmac, e_ic), m_ic):
        raise AuthenticationError("BAC: the chip's MAC does not verify")
    r = crypto.des3_cbc_decrypt(kenc, e_ic)
    if r[:8] != rnd_icc or r[8:16] != rnd_ifd:
        raise AuthenticationError("BAC: the chip did not return our nonces")
    return _session(k_ifd, r[16:], rnd_icc, rnd_ifd)


def _session(k_ifd: bytes, k_icc: bytes, rnd_icc: bytes, rnd_ifd: bytes) -> SecureMessaging:
    seed = bytes(a ^ b for a, b in zip(k_ifd, k_icc, strict=True))
    ssc = int.from_bytes(rnd_icc[-4:] + rnd_ifd[-4:], "big")
    return SecureMessaging("3DES", crypto.kdf(seed, crypto.KDF_ENC), crypto.kdf(seed, crypto.KDF_MAC), ssc)


def bac_authenticate(channel: Channel, mrz_info: str, *, rnd_ifd: bytes | None = None,
                     k_ifd: bytes | None = None) -> SecureMessaging:
    """Run BAC over ``channel`` and return the secure-messaging session (not yet installed)."""
    kenc, kmac = bac_keys(mrz_info)
    r = channel.send(CommandApdu(0x00, 0x84, 0x00, 0x00, le=8), secure=False)
    if not r.ok or len(r.data) != 8:
        raise StatusError("GET CHALLENGE failed", r.sw)
    rnd_icc = r.data
    rnd_ifd = rnd_ifd or os.urandom(8)
    k_ifd = k_ifd or os.urandom(16)
    data = terminal_cryptogram(kenc, kmac, rnd_icc, rnd_ifd, k_ifd)
    r = channel.send(CommandApdu(0x00, 0x82, 0x00, 0x00, data, le=40), secure=False)
    if r.sw == 0x6300 or r.sw1 == 0x63:
        raise AuthenticationError("BAC refused: wrong MRZ access key?")
    if not r.ok:
        raise StatusError("MUTUAL AUTHENTICATE failed", r.sw)
    return session_from_response(kenc, kmac, rnd_icc, rnd_ifd, k_ifd, r.data)


def chip_mutual_auth(kenc: bytes, kmac: bytes, rnd_icc: bytes, k_icc: bytes,
                     cmd_data: bytes) -> tuple[bytes, SecureMessaging] | None:
    """Chip side of MUTUAL AUTHENTICATE: the answer and the session, or None if refused."""
    if len(cmd_data) != 40:
        return None
    e_ifd, m_ifd = cmd_data[:32], cmd_data[32:]
    if not crypto.equal(crypto.retail_mac(kmac, e_ifd), m_ifd):
        return None
    s = crypto.des3_cbc_decrypt(kenc, e_ifd)
    rnd_ifd, k_ifd = s[:8], s[16:]
    if s[8:16] != rnd_icc:
        return None
    e_ic = crypto.des3_cbc_encrypt(kenc, rnd_icc + rnd_ifd + k_icc)
    return e_ic + crypto.retail_mac(kmac, e_ic), _session(k_ifd, k_icc, rnd_icc, rnd_ifd)
