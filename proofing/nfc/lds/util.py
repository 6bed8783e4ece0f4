"""Helpers shared by the LDS parsers: unwrap a file's outer tag, load DER strictly."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from proofing.nfc.lds.errors import LdsError
from proofing.nfc.tlv import Tlv, TlvError, decode_exact

T = TypeVar("T")


def unwrap(data: bytes, tag: int, what: str) -> Tlv:
    """Decode the single object a file holds and insist on its tag (e.g. 0x61 for DG1)."""
    try:
        obj = decode_exact(data)
    except TlvError as exc:
        raise LdsError(f"{what}: {exc}") from exc
    if obj.tag != tag:
        raise LdsError(f"{what}: expected tag {tag:X}, found {obj.tag:X}")
    return obj


def guarded(what: str, fn: Callable[[], T]) -> T:
    """Run a parse step and turn any decoding failure into an :class:`LdsError`.

    asn1crypto parses lazily, so a malformed value can surface as ValueError, TypeError,
    KeyError or IndexError from deep inside; callers see one error type with context.
    """
    try:
        return fn()
    except LdsError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise LdsError(f"{what}: {exc}") from exc
