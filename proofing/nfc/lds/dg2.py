"""DG2: the facial image, in either biometric encoding a chip may use.

DG2 (tag 75) is an ISO/IEC 7816-11 Biometric Information Group Template (7F61) holding one
Biometric Information Template (7F60) per face. Each carries a Biometric Data Block as
either

* tag 5F2E: an ISO/IEC 19794-5:2005 'FAC' binary record (LDS 1.7), or
* tag 7F2E: an ISO/IEC 39794-5 ASN.1 (BER) FaceImageDataBlock (LDS 1.8 / 2), or,
  in some older chips, the 19794-5 record under 7F2E as well.

The image inside is JPEG or JPEG 2000. We sniff the format from its magic bytes (the
record's 'image data type' field is not always honest) and decode it, so a DG2 whose image
cannot be decoded is reported as an :class:`LdsError`, not as a face.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

from proofing.nfc.lds.errors import LdsError
from proofing.nfc.lds.util import unwrap
from proofing.nfc.tlv import Tlv, TlvError, decode_exact, encode, iter_tlv

ISO19794 = "iso19794-5"
ISO39794 = "iso39794-5"

_JPEG_MAGIC = b"\xff\xd8"
_JP2_MAGIC = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_J2K_MAGIC = b"\xff\x4f\xff\x51"


@dataclass(frozen=True)
class FaceImage:
    encoding: str  # ISO19794 | ISO39794
    image_format: str  # "jpeg" | "jpeg2000"
    data: bytes = field(repr=False)  # the image file as stored
    width: int
    height: int

    def decode(self) -> np.ndarray:
        """The image as an 8-bit BGR array (OpenCV convention, like the rest of the pipeline)."""
        return decode_image(self.data)

    def to_dict(self) -> dict[str, object]:
        return {
            "encoding": self.encoding,
            "image_format": self.image_format,
            "width": self.width,
            "height": self.height,
            "bytes": len(self.data),
        }


@dataclass(frozen=True)
class Dg2:
    faces: list[FaceImage]

    def to_dict(self) -> dict[str, object]:
        return {"faces": [f.to_dict() for f in self.faces]}


def image_format(data: bytes) -> str:
    if data.startswith(_JPEG_MAGIC):
        return "jpeg"
    if data.startswith(_JP2_MAGIC) or data.startswith(_J2K_MAGIC):
        return "jpeg2000"
    raise LdsError("face image is neither JPEG nor JPEG 2000")


def decode_image(data: bytes) -> np.ndarray:
    """Decode JPEG / JPEG 2000 bytes to BGR; a truncated or corrupt image raises LdsError."""
    import cv2

    image_format(data)
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        image = _decode_with_pillow(data)
    return image


def _decode_with_pillow(data: bytes) -> np.ndarray:
    import io

    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as img:
            rgb = np.asarray(img.convert("RGB"))
    except Exception as exc:  # Pillow raises many types for corrupt data
        raise LdsError(f"face image does not decode: {exc}") from exc
    return np.ascontiguousarray(rgb[:, :, ::-1])


def _face(encoding: str, data: bytes, *, decode: bool) -> FaceImage:
    fmt = image_format(data)
    width = height = 0
    if decode:
        img = decode_image(data)
        height, width = img.shape[:2]
    return FaceImage(encoding, fmt, data, width, height)


# --- ISO/IEC 19794-5:2005 ------------------------------------------------------------------


def parse_iso19794(record: bytes, *, decode: bool = True) -> list[FaceImage]:
    """A 'FAC\\0' record: general header, then per face a header, feature points, image info, image."""
    if len(record) < 14 or record[:4] != b"FAC\x00":
        raise LdsError("ISO 19794-5: no 'FAC' record header")
    length = struct.unpack(">I", record[8:12])[0]
    count = struct.unpack(">H", record[12:14])[0]
    if length > len(record):
        raise LdsError(
            f"ISO 19794-5: record length {length} exceeds the {len(record)} bytes present"
        )
    if count == 0:
        raise LdsError("ISO 19794-5: record holds no face")
    faces = []
    pos = 14
    for _ in range(count):
        if pos + 20 > length:
            raise LdsError("ISO 19794-5: truncated facial record header")
        block = struct.unpack(">I", record[pos : pos + 4])[0]
        points = struct.unpack(">H", record[pos + 4 : pos + 6])[0]
        image_start = pos + 20 + 8 * points + 12
        if block < image_start - pos or pos + block > length:
            raise LdsError("ISO 19794-5: facial record block length is inconsistent")
        faces.append(_face(ISO19794, record[image_start : pos + block], decode=decode))
        pos += block
    return faces


def encode_iso19794(image: bytes, width: int, height: int) -> bytes:
    """A one-face 19794-5 record (basic face image, no feature points) around JPEG / JP2 bytes."""
    data_type = 0 if image_format(image) == "jpeg" else 1
    header = struct.pack(">IH", 20 + 12 + len(image), 0) + bytes(14)
    info = struct.pack(">BBHHBBHH", 1, data_type, width, height, 1, 2, 0, 0)
    body = header + info + image
    return b"FAC\x00010\x00" + struct.pack(">IH", 14 + len(body), 1) + body


# --- ISO/IEC 39794-5 -----------------------------------------------------------------------


def parse_iso39794(block: bytes, *, decode: bool = True) -> list[FaceImage]:
    """The BER content of a 7F2E data block: [1]? -> FaceImageDataBlock [APPLICATION 5]."""
    try:
        top = decode_exact(block)
        if top.tag == 0xA1:  # the data block's CHOICE wrapper around the face block
            top = decode_exact(top.value)
        if top.tag != 0x65:
            raise LdsError(f"ISO 39794-5: expected FaceImageDataBlock (65), found {top.tag:X}")
        reps = top.find(0xA1)
        if reps is None:
            raise LdsError("ISO 39794-5: no representation blocks")
        faces = [_representation(rep, decode=decode) for rep in reps.children()]
    except TlvError as exc:
        raise LdsError(f"ISO 39794-5: {exc}") from exc
    if not faces:
        raise LdsError("ISO 39794-5: no representation blocks")
    return faces


def _representation(rep: Tlv, *, decode: bool) -> FaceImage:
    image_rep = rep.find(0xA1)
    if image_rep is None:
        raise LdsError("ISO 39794-5: representation without image")
    two_d = image_rep.find(0xA0)
    if two_d is None:
        raise LdsError("ISO 39794-5: only 2D image representations are supported")
    data = two_d.find(0x80)
    if data is None:
        inner = two_d.find(0xA0)
        data = inner.find(0x80) if inner is not None else None
    if data is None:
        raise LdsError("ISO 39794-5: no representation data")
    return _face(ISO39794, data.value, decode=decode)


# --- DG2 -----------------------------------------------------------------------------------


def parse_biometric_data_block(tag: int, value: bytes, *, decode: bool = True) -> list[FaceImage]:
    if value[:4] == b"FAC\x00":
        return parse_iso19794(value, decode=decode)
    if tag == 0x7F2E:
        return parse_iso39794(value, decode=decode)
    raise LdsError(f"biometric data block {tag:X} is neither 19794-5 nor 39794-5")


def parse_dg2(data: bytes, *, decode: bool = True) -> Dg2:
    """DG2 -> faces; ``decode`` (default) proves each image decodes and records its size."""
    outer = unwrap(data, 0x75, "DG2")
    faces: list[FaceImage] = []
    try:
        group = outer.find(0x7F61)
        if group is None:
            raise LdsError("DG2: no biometric information group template (7F61)")
        templates = [c for c in group.children() if c.tag == 0x7F60]
        count = group.find(0x02)
        if count is not None and int.from_bytes(count.value, "big") != len(templates):
            raise LdsError("DG2: template count does not match the templates present")
        for bit in templates:
            blocks = [c for c in iter_tlv(bit.value) if c.tag in (0x5F2E, 0x7F2E)]
            if len(blocks) != 1:
                raise LdsError("DG2: a biometric template needs exactly one data block")
            faces.extend(parse_biometric_data_block(blocks[0].tag, blocks[0].value, decode=decode))
    except TlvError as exc:
        raise LdsError(f"DG2: {exc}") from exc
    if not faces:
        raise LdsError("DG2: no face image")
    return Dg2(faces)


def encode_dg2(image: bytes, width: int, height: int) -> bytes:
    """DG2 with one ISO 19794-5 face (BHT per ICAO 9303 Part 10: format owner 0101, type 0008)."""
    bht = encode(
        0xA1, encode(0x80, b"\x01\x01") + encode(0x87, b"\x01\x01") + encode(0x88, b"\x00\x08")
    )
    bit = encode(0x7F60, bht + encode(0x5F2E, encode_iso19794(image, width, height)))
    return encode(0x75, encode(0x7F61, encode(0x02, b"\x01") + bit))
