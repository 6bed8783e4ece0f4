"""ChipDump: the raw files read from a chip (or a dump directory), byte for byte.

Everything downstream (parsing, passive authentication) works from these raw bytes, so
the server can re-verify what a client uploaded without trusting the client's parsing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

#: Canonical file names -> short file identifiers (ICAO 9303 Part 10).
FILE_IDS: dict[str, int] = {
    "EF.COM": 0x011E,
    "EF.SOD": 0x011D,
    "EF.CardAccess": 0x011C,
    "EF.CardSecurity": 0x011D,  # in the eMRTD application's parent (MF), not the LDS1 app
    **{f"DG{i}": 0x0100 + i for i in range(1, 17)},
}

_ALIASES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(ef[._]?)?com(\.bin)?$", re.I), "EF.COM"),
    (re.compile(r"^(ef[._]?)?sod(\.bin)?$", re.I), "EF.SOD"),
    (re.compile(r"^(ef[._]?)?card_?access(\.bin)?$", re.I), "EF.CardAccess"),
    (re.compile(r"^(ef[._]?)?card_?security(\.bin)?$", re.I), "EF.CardSecurity"),
    (re.compile(r"^(?:ef[._]?)?(?:dg|datagroup)(\d{1,2})(?:\.bin)?$", re.I), "DG{0}"),
    (re.compile(r"^ef01(1e)(\.bin)?$", re.I), "EF.COM"),
    (re.compile(r"^ef01(1d)(\.bin)?$", re.I), "EF.SOD"),
    (re.compile(r"^ef01(0[1-9a-f])(\.bin)?$", re.I), "DGHEX{0}"),
]


def canonical_name(file_name: str) -> str | None:
    """Map common dump names (EF_COM.bin, Datagroup1.bin, ef0101.bin, DG2, ...) to 'EF.COM', 'DG2'."""
    for pattern, template in _ALIASES:
        m = pattern.match(file_name)
        if not m:
            continue
        if template == "DG{0}":
            n = int(m.group(1))
            return f"DG{n}" if 1 <= n <= 16 else None
        if template == "DGHEX{0}":
            return f"DG{int(m.group(1), 16)}"
        return template
    return None


@dataclass
class ChipDump:
    """Raw chip files by canonical name, plus what the reader learned on the way."""

    files: dict[str, bytes] = field(default_factory=dict)
    #: Active Authentication: the challenge sent and the chip's signature over it.
    aa_challenge: bytes | None = None
    aa_signature: bytes | None = None
    #: How the chip was accessed ("PACE", "BAC", or None for a dump read from disk).
    access_control: str | None = None
    #: Chip Authentication performed while reading (the chip proved its DG14 key).
    chip_authentication: dict[str, object] | None = None

    @classmethod
    def from_dir(cls, directory: Path) -> ChipDump:
        files: dict[str, bytes] = {}
        for path in sorted(directory.iterdir()):
            if not path.is_file():
                continue
            name = canonical_name(path.name)
            if name is not None:
                files[name] = path.read_bytes()
        dump = cls(files=files)
        for attr, fname in (("aa_challenge", "aa_challenge.bin"), ("aa_signature", "aa_signature.bin")):
            p = directory / fname
            if p.is_file():
                setattr(dump, attr, p.read_bytes())
        return dump

    def to_dir(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            (directory / f"{name}.bin").write_bytes(data)
        if self.aa_challenge is not None:
            (directory / "aa_challenge.bin").write_bytes(self.aa_challenge)
        if self.aa_signature is not None:
            (directory / "aa_signature.bin").write_bytes(self.aa_signature)
