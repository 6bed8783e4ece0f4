"""ICAO 9303 Logical Data Structure: parse (and, for test chips, encode) the chip's files.

Every parser takes the raw file bytes and returns a frozen dataclass or raises
:class:`LdsError`; nothing here trusts the data before passive authentication has run.
"""

from __future__ import annotations

from proofing.nfc.lds.com import EfCom, encode_com, parse_com
from proofing.nfc.lds.dg1 import Dg1, encode_dg1, parse_dg1
from proofing.nfc.lds.dg2 import Dg2, FaceImage, encode_dg2, parse_dg2
from proofing.nfc.lds.dg11 import Dg11, encode_dg11, parse_dg11
from proofing.nfc.lds.dg12 import Dg12, encode_dg12, parse_dg12
from proofing.nfc.lds.dg15 import encode_dg15, parse_dg15
from proofing.nfc.lds.errors import LdsError
from proofing.nfc.lds.keys import PublicKeyInfo, parse_spki
from proofing.nfc.lds.security_infos import (
    ActiveAuthenticationInfo,
    ChipAuthenticationInfo,
    ChipAuthenticationPublicKeyInfo,
    PaceInfo,
    SecurityInfos,
    encode_dg14,
    parse_card_access,
    parse_dg14,
    parse_security_infos,
)
from proofing.nfc.lds.sod import Sod, parse_card_security, parse_sod

__all__ = [
    "ActiveAuthenticationInfo",
    "ChipAuthenticationInfo",
    "ChipAuthenticationPublicKeyInfo",
    "Dg1",
    "Dg11",
    "Dg12",
    "Dg2",
    "EfCom",
    "FaceImage",
    "LdsError",
    "PaceInfo",
    "PublicKeyInfo",
    "SecurityInfos",
    "Sod",
    "encode_com",
    "encode_dg1",
    "encode_dg11",
    "encode_dg12",
    "encode_dg14",
    "encode_dg15",
    "encode_dg2",
    "parse_card_access",
    "parse_card_security",
    "parse_com",
    "parse_dg1",
    "parse_dg11",
    "parse_dg12",
    "parse_dg14",
    "parse_dg15",
    "parse_dg2",
    "parse_security_infos",
    "parse_sod",
    "parse_spki",
]
