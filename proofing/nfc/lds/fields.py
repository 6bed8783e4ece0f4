"""Shared reader / writer for the tag-list data groups DG11 and DG12 (ICAO 9303 Part 10).

Both start with a tag list (5C) naming the elements present, followed by the elements;
some elements may repeat inside an A0 template with a count (02). Text is UTF-8; image
elements are kept as bytes.
"""

from __future__ import annotations

from collections.abc import Mapping

from proofing.nfc.lds.errors import LdsError
from proofing.nfc.lds.util import unwrap
from proofing.nfc.tlv import TlvError, encode, encode_tag, iter_tlv, read_tag


def parse_tag_list_group(
    data: bytes, tag: int, what: str, names: Mapping[int, str], binary: set[int]
) -> tuple[dict[str, str | list[str]], dict[str, bytes]]:
    """-> (text fields by name, binary fields by name); every listed tag must be present."""
    outer = unwrap(data, tag, what)
    text: dict[str, str | list[str]] = {}
    raw: dict[str, bytes] = {}
    try:
        children = list(iter_tlv(outer.value))
        if not children or children[0].tag != 0x5C:
            raise LdsError(f"{what}: missing tag list (5C)")
        listed: list[int] = []
        pos = 0
        tag_list = children[0].value
        while pos < len(tag_list):
            t, pos = read_tag(tag_list, pos)
            listed.append(t)
        seen: set[int] = set()
        for child in children[1:]:
            if child.tag == 0xA0:  # repeated element: count + items
                items = [c for c in child.children() if c.tag != 0x02]
                if not items:
                    continue
                seen.add(items[0].tag)
                name = names.get(items[0].tag, f"tag_{items[0].tag:X}")
                text[name] = [_text(i.value, what) for i in items]
                continue
            seen.add(child.tag)
            name = names.get(child.tag, f"tag_{child.tag:X}")
            if child.tag in binary:
                raw[name] = child.value
            else:
                text[name] = _text(child.value, what)
    except TlvError as exc:
        raise LdsError(f"{what}: {exc}") from exc
    missing = [t for t in listed if t not in seen and t != 0xA0]
    if missing:
        raise LdsError(f"{what}: listed elements missing: {', '.join(f'{t:X}' for t in missing)}")
    return text, raw


def _text(value: bytes, what: str) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LdsError(f"{what}: element is not UTF-8 text") from exc


def encode_tag_list_group(
    tag: int, names: Mapping[int, str], values: Mapping[str, str | bytes]
) -> bytes:
    by_name = {v: k for k, v in names.items()}
    tags: list[int] = []
    body = b""
    for name, value in values.items():
        t = by_name[name]
        tags.append(t)
        body += encode(t, value.encode("utf-8") if isinstance(value, str) else value)
    return encode(tag, encode(0x5C, b"".join(encode_tag(t) for t in tags)) + body)
