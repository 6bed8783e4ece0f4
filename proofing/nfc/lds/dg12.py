"""DG12: additional document details (issuing authority, date of issue, ...)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from proofing.nfc.lds.fields import encode_tag_list_group, parse_tag_list_group

DG12_FIELDS: dict[int, str] = {
    0x5F19: "issuing_authority",
    0x5F26: "date_of_issue",
    0x5F1A: "other_persons",
    0x5F1B: "endorsements",
    0x5F1C: "tax_exit_requirements",
    0x5F1D: "image_front",
    0x5F1E: "image_rear",
    0x5F55: "personalization_time",
    0x5F56: "personalization_device_serial",
}
_BINARY = {0x5F1D, 0x5F1E}


@dataclass(frozen=True)
class Dg12:
    fields: dict[str, str | list[str]]
    binary: dict[str, bytes] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, object]:
        return {**self.fields, **{k: f"<{len(v)} bytes>" for k, v in self.binary.items()}}


def parse_dg12(data: bytes) -> Dg12:
    text, raw = parse_tag_list_group(data, 0x6C, "DG12", DG12_FIELDS, _BINARY)
    return Dg12(text, raw)


def encode_dg12(values: Mapping[str, str | bytes]) -> bytes:
    return encode_tag_list_group(0x6C, DG12_FIELDS, values)
