"""The portrait printed on the document page, cropped for the secondary face match.

The page photo is the weaker reference (printed, small, often behind a hologram), so it is
only a cross-check on the chip portrait: a chip that matches the selfie while the page
photo does not points at a substituted page photo.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Margin around the detector box, in box widths, so that alignment has context.
MARGIN = 0.6


def crop_page_portrait(frames: Sequence[np.ndarray]) -> np.ndarray | None:
    """The largest face on the first document frame that shows one, with a margin; else None."""
    from proofing.face.detect import detect_faces

    for frame in frames:
        faces = detect_faces(frame)
        if not faces:
            continue
        x, y, w, h = faces[0].box
        m = MARGIN * max(w, h)
        height, width = frame.shape[:2]
        x0, y0 = max(0, int(x - m)), max(0, int(y - m))
        x1, y1 = min(width, int(x + w + m)), min(height, int(y + h + m))
        if x1 - x0 > 8 and y1 - y0 > 8:
            return np.ascontiguousarray(frame[y0:y1, x0:x1])
    return None
