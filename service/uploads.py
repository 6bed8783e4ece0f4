"""Upload limits at the HTTP edge, before anything is stored.

Sizes are enforced while reading (a file is never read past its limit, a request body
never past the sum of them: see :class:`service.security.BodyLimit`) and the number of
files before any is read. Each file is then checked by ``proofing.intake.uploads``, the
one rule set for what an image is: kind by magic bytes (the declared content type and
file name are ignored), pixel count from the header before any decoding (the
decompression-bomb guard), structure verified. Statuses follow docs/api.md: 413 too large
or too many, 415 not an accepted image by content, 422 empty, undecodable or too many pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile

from proofing.intake.errors import UploadRejected
from proofing.intake.uploads import CHIP_FILES, MAX_CHIP_FILE, check_image, sniff
from proofing.settings import Settings

#: Multipart framing and field names, on top of the files themselves.
BODY_SLACK = 256 * 1024


@dataclass(frozen=True)
class Limits:
    max_upload_bytes: int
    max_frames: int
    max_pixels: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(settings.max_upload_bytes, settings.max_frames, settings.max_pixels)

    @property
    def frames_body(self) -> int:
        """The most a frames upload may carry: every frame at the size limit, plus framing."""
        return self.max_frames * (self.max_upload_bytes + 1024) + BODY_SLACK

    @property
    def frame_body(self) -> int:
        """One preview frame plus framing."""
        return self.max_upload_bytes + BODY_SLACK

    @property
    def chip_body(self) -> int:
        """Every chip file at its limit, base64-encoded in JSON."""
        return len(CHIP_FILES) * (MAX_CHIP_FILE * 4 // 3 + 64) + BODY_SLACK

    def to_json(self) -> dict[str, Any]:
        return {
            "max_upload_bytes": self.max_upload_bytes,
            "max_frames": self.max_frames,
            "max_pixels": self.max_pixels,
            "content_types": ["image/jpeg", "image/png", "image/webp"],
        }


def read_limited(upload: UploadFile, limit: int) -> bytes:
    """The file's bytes, refusing with 413 as soon as more than ``limit`` arrive."""
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise UploadRejected(413, "UPLOAD_TOO_LARGE", f"a file exceeds the limit of {limit} bytes")
    return data


def read_image(upload: UploadFile, settings: Settings) -> bytes:
    """One uploaded image, read within its size limit and checked (type, pixels, structure)."""
    data = read_limited(upload, settings.max_upload_bytes)
    check_image(data, settings)
    return data


def read_frames(files: Sequence[UploadFile], settings: Settings) -> list[bytes]:
    """A list of frames: the count first (nothing is read when there are too many), then each file."""
    if not files:
        raise UploadRejected(422, "UPLOAD_EMPTY", "send at least one file")
    if len(files) > settings.max_frames:
        raise UploadRejected(413, "UPLOAD_TOO_MANY_FILES", f"at most {settings.max_frames} files per upload")
    return [read_image(f, settings) for f in files]


__all__ = ["BODY_SLACK", "Limits", "read_frames", "read_image", "read_limited", "sniff"]
