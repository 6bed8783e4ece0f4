"""Errors of the chip protocol layer: one family, so a caller catches :class:`ChipError`.

A read that fails part-way raises; it never returns a partial dump that could pass as a
complete one.
"""

from __future__ import annotations


class ChipError(Exception):
    """Talking to the chip failed (transport, protocol, authentication or a bad answer)."""


class TransportError(ChipError):
    """The reader or the link to it failed (no reader, no card, timeout)."""


class CardRemoved(TransportError):
    """The card left the field (or the connection to it dropped) in the middle of a session."""


class StatusError(ChipError):
    """The chip answered with an error status word."""

    def __init__(self, message: str, sw: int) -> None:
        super().__init__(f"{message}: SW {sw:04X} ({status_meaning(sw)})")
        self.sw = sw


class SecureMessagingError(ChipError):
    """A secure-messaging response failed its MAC or structure check: the session is over."""


class AuthenticationError(ChipError):
    """BAC, PACE or Chip Authentication failed (wrong access key, wrong token, bad cryptogram)."""


def status_meaning(sw: int) -> str:
    """A short English reading of an ISO 7816-4 status word."""
    sw1 = sw >> 8
    if sw1 == 0x61:
        return f"{sw & 0xFF} more bytes available (GET RESPONSE)"
    if sw1 == 0x6C:
        return f"wrong Le, exact length is {sw & 0xFF}"
    if sw1 == 0x63 and sw & 0xF0 == 0xC0:
        return f"verification failed, {sw & 0x0F} tries left"
    return _MEANINGS.get(sw, _MEANINGS.get(sw & 0xFF00, "unknown status"))


_MEANINGS: dict[int, str] = {
    0x9000: "success",
    0x6282: "end of file reached before Le bytes",
    0x6300: "authentication failed",
    0x6581: "memory failure",
    0x6700: "wrong length",
    0x6881: "logical channel not supported",
    0x6882: "secure messaging not supported",
    0x6883: "last command of the chain expected",
    0x6884: "command chaining not supported",
    0x6982: "security status not satisfied",
    0x6983: "authentication method blocked",
    0x6984: "reference data not usable",
    0x6985: "conditions of use not satisfied",
    0x6986: "command not allowed (no current EF)",
    0x6987: "expected secure messaging data objects missing",
    0x6988: "incorrect secure messaging data objects",
    0x6A80: "incorrect parameters in the data field",
    0x6A82: "file or application not found",
    0x6A86: "incorrect parameters P1-P2",
    0x6A88: "referenced data not found",
    0x6B00: "wrong parameters (offset outside the EF)",
    0x6D00: "instruction not supported",
    0x6E00: "class not supported",
    0x6F00: "no precise diagnosis",
}
