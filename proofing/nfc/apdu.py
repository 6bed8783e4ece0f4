"""ISO/IEC 7816-4 command and response APDUs, short and extended length.

``Le`` follows the standard's reading: ``None`` = no response data expected, 256 (short) /
65536 (extended) = "as much as available", encoded as 00 / 0000.
"""

from __future__ import annotations

from dataclasses import dataclass

from proofing.nfc.errors import status_meaning


@dataclass(frozen=True)
class CommandApdu:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None
    #: Force the extended encoding even when the short one would fit.
    extended: bool = False

    @property
    def header(self) -> bytes:
        return bytes([self.cla, self.ins, self.p1, self.p2])

    def is_extended(self) -> bool:
        return self.extended or len(self.data) > 255 or (self.le is not None and self.le > 256)

    def encode(self) -> bytes:
        if len(self.data) > 65535 or (self.le is not None and not 0 < self.le <= 65536):
            raise ValueError("APDU data or Le out of range")
        out = bytearray(self.header)
        if self.is_extended():
            if self.data:
                out += b"\x00" + len(self.data).to_bytes(2, "big") + self.data
            if self.le is not None:
                le = (self.le % 65536).to_bytes(2, "big")
                out += le if self.data else b"\x00" + le
        else:
            if self.data:
                out += bytes([len(self.data)]) + self.data
            if self.le is not None:
                out.append(self.le % 256)
        return bytes(out)

    @classmethod
    def decode(cls, raw: bytes) -> CommandApdu:
        """Parse the four ISO 7816-3 cases, short and extended."""
        if len(raw) < 4:
            raise ValueError("APDU shorter than its header")
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        if not body:
            return cls(cla, ins, p1, p2)
        if len(body) == 1:
            return cls(cla, ins, p1, p2, le=body[0] or 256)
        if body[0] != 0:  # short, with data
            lc = body[0]
            data = body[1 : 1 + lc]
            rest = body[1 + lc :]
            if len(data) != lc or len(rest) > 1:
                raise ValueError("short APDU length mismatch")
            le = (rest[0] or 256) if rest else None
            return cls(cla, ins, p1, p2, data, le)
        # extended
        if len(body) == 3:
            return cls(cla, ins, p1, p2, le=int.from_bytes(body[1:3], "big") or 65536, extended=True)
        lc = int.from_bytes(body[1:3], "big")
        data = body[3 : 3 + lc]
        rest = body[3 + lc :]
        if len(data) != lc or len(rest) not in (0, 2):
            raise ValueError("extended APDU length mismatch")
        le = (int.from_bytes(rest, "big") or 65536) if rest else None
        return cls(cla, ins, p1, p2, data, le, extended=True)


@dataclass(frozen=True)
class ResponseApdu:
    data: bytes
    sw: int

    @property
    def ok(self) -> bool:
        return self.sw == 0x9000

    @property
    def sw1(self) -> int:
        return self.sw >> 8

    @property
    def sw2(self) -> int:
        return self.sw & 0xFF

    def encode(self) -> bytes:
        return self.data + self.sw.to_bytes(2, "big")

    @classmethod
    def decode(cls, raw: bytes) -> ResponseApdu:
        if len(raw) < 2:
            raise ValueError("response shorter than a status word")
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))

    def meaning(self) -> str:
        return status_meaning(self.sw)


# Instruction bytes used by the eMRTD protocols.
INS_SELECT = 0xA4
INS_READ_BINARY = 0xB0
INS_READ_BINARY_ODD = 0xB1
INS_GET_CHALLENGE = 0x84
INS_EXTERNAL_AUTHENTICATE = 0x82  # MUTUAL AUTHENTICATE for BAC
INS_INTERNAL_AUTHENTICATE = 0x88
INS_MSE = 0x22
INS_GENERAL_AUTHENTICATE = 0x86
INS_GET_RESPONSE = 0xC0

SW_OK = 0x9000
SW_EOF = 0x6282
SW_WRONG_LENGTH = 0x6700
SW_SECURITY_NOT_SATISFIED = 0x6982
SW_AUTH_FAILED = 0x6300
SW_CONDITIONS = 0x6985
SW_SM_MISSING = 0x6987
SW_SM_INCORRECT = 0x6988
SW_WRONG_DATA = 0x6A80
SW_NOT_FOUND = 0x6A82
SW_WRONG_P1P2 = 0x6A86
SW_WRONG_OFFSET = 0x6B00
SW_INS_UNKNOWN = 0x6D00
SW_CLA_UNKNOWN = 0x6E00
