"""DG1: the MRZ as stored on the chip (tag 61 -> 5F1F), parsed with the OCR path's parser.

Using :func:`proofing.mrz.parse.parse_lines` means chip and OCR MRZs are judged by the
same rules, which is what :mod:`proofing.nfc.compare` relies on.
"""

from __future__ import annotations

from dataclasses import dataclass

from proofing.mrz.parse import parse_lines
from proofing.mrz.result import MrzResult
from proofing.nfc.lds.errors import LdsError
from proofing.nfc.lds.util import unwrap
from proofing.nfc.tlv import TlvError, encode

#: MRZ length -> line length (TD1 3x30, TD2 / MRV-B 2x36, TD3 / MRV-A 2x44).
_LINE_LENGTHS = {90: 30, 72: 36, 88: 44}


@dataclass(frozen=True)
class Dg1:
    mrz_text: str
    lines: list[str]
    mrz: MrzResult

    def to_dict(self) -> dict[str, object]:
        return {"lines": self.lines, "mrz": self.mrz.to_dict()}


def split_mrz(text: str) -> list[str]:
    width = _LINE_LENGTHS.get(len(text))
    if width is None:
        raise LdsError(f"DG1: MRZ of {len(text)} characters is not TD1, TD2 or TD3")
    return [text[i : i + width] for i in range(0, len(text), width)]


def parse_dg1(data: bytes) -> Dg1:
    obj = unwrap(data, 0x61, "DG1")
    try:
        field = obj.find(0x5F1F)
    except TlvError as exc:
        raise LdsError(f"DG1: {exc}") from exc
    if field is None:
        raise LdsError("DG1: no MRZ data element (5F1F)")
    try:
        text = field.value.decode("ascii")
    except UnicodeDecodeError as exc:
        raise LdsError("DG1: MRZ is not ASCII") from exc
    if any(not (c.isupper() or c.isdigit() or c == "<") for c in text):
        raise LdsError("DG1: MRZ has characters outside A-Z 0-9 <")
    lines = split_mrz(text)
    result = parse_lines(lines)
    result.source = "DG1"
    return Dg1(text, lines, result)


def encode_dg1(lines: list[str]) -> bytes:
    text = "".join(lines)
    split_mrz(text)
    return encode(0x61, encode(0x5F1F, text.encode("ascii")))
