"""The one error the LDS parsers raise: malformed data never becomes a partial object."""

from __future__ import annotations


class LdsError(ValueError):
    """An LDS file (EF.COM, a DG, EF.SOD, SecurityInfos) is malformed, truncated or unsupported."""
