"""DG11: additional personal details (full name, place of birth, address, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from proofing.nfc.lds.fields import encode_tag_list_group, parse_tag_list_group

DG11_FIELDS: dict[int, str] = {
    0x5F0E: "full_name",
    0x5F0F: "other_names",
    0x5F10: "personal_number",
    0x5F2B: "full_date_of_birth",
    0x5F11: "place_of_birth",
    0x5F42: "address",
    0x5F12: "telephone",
    0x5F13: "profession",
    0x5F14: "title",
    0x5F15: "personal_summary",
    0x5F16: "proof_of_citizenship",
    0x5F17: "other_valid_td_numbers",
    0x5F18: "custody_information",
}
_BINARY = {0x5F16}


@dataclass(frozen=True)
class Dg11:
    fields: dict[str, str | list[str]]
    binary: dict[str, bytes] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, object]:
        return {**self.fields, **{k: f"<{len(v)} bytes>" for k, v in self.binary.items()}}


def parse_dg11(data: bytes) -> Dg11:
    text, raw = parse_tag_list_group(data, 0x6B, "DG11", DG11_FIELDS, _BINARY)
    return Dg11(text, raw)


def encode_dg11(values: Mapping[str, str | bytes]) -> bytes:
    """``values`` by field name (see DG11_FIELDS), e.g. {'full_name': 'MUSTERMANN<<ERIKA'}."""
    return encode_tag_list_group(0x6B, DG11_FIELDS, values)
