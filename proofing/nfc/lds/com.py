"""EF.COM (ICAO 9303 Part 10 4.6.1): LDS version, Unicode version and the list of DG tags."""

from __future__ import annotations

from dataclasses import dataclass

from proofing.nfc.lds.errors import LdsError
from proofing.nfc.lds.util import unwrap
from proofing.nfc.tlv import TlvError, encode, iter_tlv

#: DG number -> the tag its file starts with (the tags EF.COM lists).
DG_TAGS: dict[int, int] = {
    1: 0x61, 2: 0x75, 3: 0x63, 4: 0x76, 5: 0x65, 6: 0x66, 7: 0x67, 8: 0x68,
    9: 0x69, 10: 0x6A, 11: 0x6B, 12: 0x6C, 13: 0x6D, 14: 0x6E, 15: 0x6F, 16: 0x70,
}  # fmt: skip
TAG_DGS = {tag: n for n, tag in DG_TAGS.items()}


@dataclass(frozen=True)
class EfCom:
    lds_version: str  # "0107" -> LDS 1.7
    unicode_version: str  # "040000" -> Unicode 4.0.0
    data_groups: list[int]  # DG numbers listed, in file order

    @property
    def lds_version_text(self) -> str:
        v = self.lds_version
        return f"{int(v[:2])}.{int(v[2:])}" if len(v) == 4 and v.isdigit() else v

    def to_dict(self) -> dict[str, object]:
        return {
            "lds_version": self.lds_version_text,
            "unicode_version": self.unicode_version,
            "data_groups": self.data_groups,
        }


def parse_com(data: bytes) -> EfCom:
    obj = unwrap(data, 0x60, "EF.COM")
    fields: dict[int, bytes] = {}
    try:
        for child in iter_tlv(obj.value):
            fields[child.tag] = child.value
    except TlvError as exc:
        raise LdsError(f"EF.COM: {exc}") from exc
    missing = [t for t in (0x5F01, 0x5F36, 0x5C) if t not in fields]
    if missing:
        raise LdsError(f"EF.COM: missing {', '.join(f'{t:X}' for t in missing)}")
    try:
        lds, uni = fields[0x5F01].decode("ascii"), fields[0x5F36].decode("ascii")
    except UnicodeDecodeError as exc:
        raise LdsError("EF.COM: version fields are not ASCII digits") from exc
    if not (lds.isdigit() and uni.isdigit()):
        raise LdsError("EF.COM: version fields are not digits")
    unknown = [t for t in fields[0x5C] if t not in TAG_DGS]
    if unknown:
        raise LdsError(f"EF.COM: unknown data group tags {bytes(unknown).hex()}")
    return EfCom(lds, uni, [TAG_DGS[t] for t in fields[0x5C]])


def encode_com(
    data_groups: list[int], lds_version: str = "0107", unicode_version: str = "040000"
) -> bytes:
    body = (
        encode(0x5F01, lds_version.encode())
        + encode(0x5F36, unicode_version.encode())
        + encode(0x5C, bytes(DG_TAGS[n] for n in data_groups))
    )
    return encode(0x60, body)
