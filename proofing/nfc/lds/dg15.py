"""DG15: the Active Authentication public key (tag 6F around a SubjectPublicKeyInfo)."""

from __future__ import annotations

from proofing.nfc.lds.keys import PublicKeyInfo, parse_spki
from proofing.nfc.lds.util import unwrap
from proofing.nfc.tlv import encode


def parse_dg15(data: bytes) -> PublicKeyInfo:
    return parse_spki(unwrap(data, 0x6F, "DG15").value)


def encode_dg15(spki: bytes) -> bytes:
    return encode(0x6F, spki)
