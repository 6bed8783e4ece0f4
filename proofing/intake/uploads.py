"""What an upload must be before it is stored: small enough, really an image (by its
bytes, not its declared type), decodable, and not a decompression bomb.

The pixel count is read from the header before any decoding, so a 100 000 x 100 000 PNG
of a few kilobytes is refused without allocating its 10 GB of pixels.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image

from proofing.intake.errors import UploadRejected
from proofing.settings import Settings

#: Leading bytes of the image formats a camera page sends.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


def sniff(data: bytes) -> str | None:
    for magic, ctype in _MAGIC:
        if data.startswith(magic):
            return ctype
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def check_image(data: bytes, settings: Settings) -> str:
    """The sniffed content type of an acceptable image; UploadRejected otherwise."""
    if len(data) > settings.max_upload_bytes:
        raise UploadRejected(413, "UPLOAD_TOO_LARGE",
                             f"an image may have at most {settings.max_upload_bytes} bytes, this one has {len(data)}")
    if not data:
        raise UploadRejected(422, "UPLOAD_EMPTY", "the upload is empty")
    ctype = sniff(data)
    if ctype is None:
        raise UploadRejected(415, "UPLOAD_NOT_AN_IMAGE", "only JPEG, PNG or WebP images are accepted")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
                if w * h > settings.max_pixels:
                    raise UploadRejected(422, "UPLOAD_TOO_MANY_PIXELS",
                                         f"{w}x{h} is more than {settings.max_pixels} pixels")
                im.verify()
    except UploadRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise UploadRejected(422, "UPLOAD_TOO_MANY_PIXELS", f"decompression bomb refused: {exc}") from None
    except Exception as exc:  # PIL raises many types for broken files
        raise UploadRejected(422, "UPLOAD_UNDECODABLE", f"the image cannot be decoded ({type(exc).__name__})") from None
    return ctype


#: Chip files an upload may carry (ICAO 9303 names); anything else is refused.
CHIP_FILES = frozenset({"EF.COM", "EF.SOD", "EF.CardAccess", "EF.CardSecurity", *(f"DG{i}" for i in range(1, 17))})
MAX_CHIP_FILE = 2 * 1024 * 1024  # a DG2 with a large JPEG2000 portrait stays far below


def check_chip(files: dict[str, bytes], aa_signature: bytes | None) -> None:
    if not files:
        raise UploadRejected(422, "CHIP_EMPTY", "no chip files")
    unknown = sorted(set(files) - CHIP_FILES)
    if unknown:
        raise UploadRejected(422, "CHIP_UNKNOWN_FILE", f"unknown chip file name(s): {', '.join(unknown[:5])}")
    for name, data in files.items():
        if len(data) > MAX_CHIP_FILE:
            raise UploadRejected(413, "UPLOAD_TOO_LARGE", f"{name} is larger than {MAX_CHIP_FILE} bytes")
    if "EF.SOD" not in files or "DG1" not in files:
        raise UploadRejected(422, "CHIP_INCOMPLETE", "EF.SOD and DG1 are required")
    if aa_signature is not None and not 8 <= len(aa_signature) <= 1024:
        raise UploadRejected(422, "AA_SIGNATURE_SIZE", "the Active Authentication signature has an implausible size")
