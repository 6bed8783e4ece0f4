"""BER-TLV as used by ISO 7816-4 and the ICAO LDS: tags of one or more bytes, definite lengths.

Small on purpose: decode one object, iterate a sequence of objects, encode. Malformed
input (a length running past the end, an indefinite length) raises :class:`TlvError`
rather than returning a short value that could look valid.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


class TlvError(ValueError):
    """The bytes are not well-formed BER-TLV (truncated, bad length, trailing garbage)."""


@dataclass(frozen=True)
class Tlv:
    tag: int
    value: bytes
    #: Offset of the tag and the end of the value in the buffer it was decoded from.
    start: int = 0
    end: int = 0

    @property
    def constructed(self) -> bool:
        first = self.tag
        while first > 0xFF:
            first >>= 8
        return bool(first & 0x20)

    def children(self) -> list[Tlv]:
        return list(iter_tlv(self.value))

    def find(self, tag: int) -> Tlv | None:
        """The first direct child with ``tag``."""
        for child in iter_tlv(self.value):
            if child.tag == tag:
                return child
        return None


def read_tag(buf: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(buf):
        raise TlvError("truncated: tag expected")
    tag = buf[pos]
    pos += 1
    if tag & 0x1F == 0x1F:  # multi-byte tag: continue while bit 8 is set
        while True:
            if pos >= len(buf):
                raise TlvError("truncated inside a multi-byte tag")
            b = buf[pos]
            tag = (tag << 8) | b
            pos += 1
            if not b & 0x80:
                break
    return tag, pos


def read_length(buf: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(buf):
        raise TlvError("truncated: length expected")
    first = buf[pos]
    pos += 1
    if first < 0x80:
        return first, pos
    n = first & 0x7F
    if n == 0:
        raise TlvError("indefinite length is not allowed here")
    if n > 4 or pos + n > len(buf):
        raise TlvError("truncated or oversized length field")
    return int.from_bytes(buf[pos : pos + n], "big"), pos + n


def decode(buf: bytes, pos: int = 0) -> Tlv:
    """Decode the TLV object starting at ``pos``."""
    start = pos
    tag, pos = read_tag(buf, pos)
    length, pos = read_length(buf, pos)
    if pos + length > len(buf):
        raise TlvError(f"tag {tag:X}: length {length} runs past the end ({len(buf) - pos} left)")
    return Tlv(tag, bytes(buf[pos : pos + length]), start, pos + length)


def decode_exact(buf: bytes) -> Tlv:
    """Decode a buffer that must hold exactly one object (trailing padding 0x00/0xFF ignored)."""
    obj = decode(buf)
    rest = buf[obj.end :]
    if rest.strip(b"\x00\xff"):
        raise TlvError(f"{len(rest)} unexpected bytes after tag {obj.tag:X}")
    return obj


def iter_tlv(buf: bytes) -> Iterator[Tlv]:
    pos = 0
    while pos < len(buf):
        if buf[pos] in (0x00, 0xFF) and not buf[pos:].strip(b"\x00\xff"):
            return  # padding at the end of a file or a block
        obj = decode(buf, pos)
        yield obj
        pos = obj.end


def encode_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def encode_tag(tag: int) -> bytes:
    return tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")


def encode(tag: int, value: bytes) -> bytes:
    return encode_tag(tag) + encode_length(len(value)) + value
