"""The ``proofing`` command line. Thin: parse arguments, call a stage, print its result.

Each stage's commands live in their own module here and register on :data:`app`; heavy
imports (OpenCV, ONNX Runtime, pyscard) happen inside the commands so that ``--help``
stays fast.
"""

from __future__ import annotations

from proofing.cli import bench as _bench  # noqa: F401
from proofing.cli import chip_read as _chip_read  # noqa: F401
from proofing.cli import chip_verify as _chip_verify  # noqa: F401
from proofing.cli import demo as _demo  # noqa: F401
from proofing.cli import evidence as _evidence  # noqa: F401
from proofing.cli import face as _face  # noqa: F401
from proofing.cli import glyphs as _glyphs  # noqa: F401
from proofing.cli import liveness as _liveness  # noqa: F401
from proofing.cli import models as _models  # noqa: F401
from proofing.cli import mrz as _mrz  # noqa: F401  (registers commands)
from proofing.cli import review as _review  # noqa: F401
from proofing.cli import serve as _serve  # noqa: F401
from proofing.cli import verify as _verify  # noqa: F401
from proofing.cli import worker as _worker  # noqa: F401
from proofing.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
