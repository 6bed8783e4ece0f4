"""Getting APDUs to a chip: the :class:`Transport` protocol, PC/SC over pyscard, and the
:class:`Channel` that adds ISO 7816 response handling (61xx, 6Cxx) and secure messaging.

The reader logic only needs ``transmit(bytes) -> bytes``, so it runs over PC/SC, over the
virtual chip in-process, or over anything else that moves APDUs.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from proofing.nfc.apdu import CommandApdu, ResponseApdu
from proofing.nfc.errors import CardRemoved, ChipError, TransportError
from proofing.nfc.sm import SecureMessaging


@runtime_checkable
class Transport(Protocol):
    """Moves one raw command APDU to the card and returns the raw response (data + SW)."""

    def transmit(self, apdu: bytes) -> bytes: ...

    @property
    def supports_extended(self) -> bool | None:
        """True/False when known (ATR, EF.ATR/INFO), None when the reader must try."""
        ...


def atr_extended_length(atr: bytes) -> bool | None:
    """Read "extended Lc/Le supported" from the ATR's historical bytes (ISO 7816-4 8.1.1.2.7).

    Returns None when the ATR does not say (no compact-TLV card capabilities).
    """
    hist = atr_historical_bytes(atr)
    if not hist or hist[0] not in (0x00, 0x80):
        return None
    pos = 1
    while pos < len(hist):
        tag, length = hist[pos] >> 4, hist[pos] & 0x0F
        value = hist[pos + 1 : pos + 1 + length]
        if tag == 0x7 and length >= 3:
            return bool(value[2] & 0x40)
        pos += 1 + length
    return None


def atr_historical_bytes(atr: bytes) -> bytes:
    if len(atr) < 2:
        return b""
    k = atr[1] & 0x0F
    pos, y = 2, atr[1] >> 4
    while True:
        pos += bin(y & 0x07).count("1")  # TA, TB, TC
        if y & 0x08:  # TD present
            if pos >= len(atr):
                return b""
            y = atr[pos] >> 4
            pos += 1
        else:
            break
    return bytes(atr[pos : pos + k])


@dataclass
class Channel:
    """A transport plus the current secure-messaging session (None before access control)."""

    transport: Transport
    sm: SecureMessaging | None = None
    #: APDUs exchanged (for benchmarks and logs).
    exchanges: int = field(default=0)

    def send(self, cmd: CommandApdu, *, secure: bool = True) -> ResponseApdu:
        """Send ``cmd``, protected when a session is active; return the (plain) response."""
        if secure and self.sm is not None:
            resp = self._exchange(self.sm.protect(cmd))
            return self.sm.unprotect(resp)
        return self._exchange(cmd)

    def _exchange(self, cmd: CommandApdu) -> ResponseApdu:
        resp = self._raw(cmd.encode())
        if resp.sw1 == 0x6C:  # wrong Le: resend with the exact length
            cmd = CommandApdu(cmd.cla, cmd.ins, cmd.p1, cmd.p2, cmd.data, resp.sw2 or 256, cmd.extended)
            resp = self._raw(cmd.encode())
        data = resp.data
        for _ in range(256):
            if resp.sw1 != 0x61:
                break
            resp = self._raw(CommandApdu(cmd.cla & 0x03, 0xC0, 0, 0, le=resp.sw2 or 256).encode())
            data += resp.data
        else:
            raise ChipError("endless GET RESPONSE chain")
        return ResponseApdu(data, resp.sw)

    def _raw(self, apdu: bytes) -> ResponseApdu:
        self.exchanges += 1
        raw = self.transport.transmit(apdu)
        try:
            return ResponseApdu.decode(raw)
        except ValueError as exc:
            raise TransportError(f"malformed response {raw.hex()}") from exc


def _release(conn: Any) -> None:
    """Free pyscard's PC/SC context now, not in a destructor that may run after pcscd is gone."""
    release = getattr(conn, "release", None)
    if release is not None:
        with contextlib.suppress(Exception):
            release()


class PcscTransport:
    """PC/SC through pyscard: a reader chosen by (part of) its name, or the first with a card.

    ``timeout`` bounds each exchange; PC/SC itself has no per-command timeout, so the call
    runs in a worker thread and a late answer ends the connection.
    """

    def __init__(self, reader: str | None = None, *, timeout: float = 15.0) -> None:
        self.reader_name = reader
        self.timeout = timeout
        self._conn: Any = None
        self.atr = b""
        self.name = ""
        self._broken = False

    def connect(self) -> PcscTransport:
        try:
            from smartcard.Exceptions import CardConnectionException, NoCardException
            from smartcard.System import readers
        except ImportError as exc:  # pragma: no cover - depends on the machine
            raise TransportError("pyscard is not installed (pip install pyscard)") from exc
        try:
            available = readers()
        except Exception as exc:
            raise TransportError(f"no PC/SC service: {exc}") from exc
        if not available:
            raise TransportError("no PC/SC reader found (is pcscd running?)")
        candidates = [r for r in available if self.reader_name is None or self.reader_name in str(r)]
        if not candidates:
            raise TransportError(f"no reader matches {self.reader_name!r}: {[str(r) for r in available]}")
        errors = []
        for r in candidates:
            conn = r.createConnection()
            try:
                conn.connect()
            except (NoCardException, CardConnectionException) as exc:
                errors.append(f"{r}: {exc}")
                _release(conn)
                continue
            self._conn, self.name = conn, str(r)
            self.atr = bytes(conn.getATR())
            return self
        raise TransportError("no card on " + "; ".join(errors))

    @property
    def supports_extended(self) -> bool | None:
        return atr_extended_length(self.atr)

    def transmit(self, apdu: bytes) -> bytes:
        if self._conn is None or self._broken:
            raise CardRemoved("the connection to the card is closed")
        result: dict[str, Any] = {}

        def work() -> None:
            try:
                data, sw1, sw2 = self._conn.transmit(list(apdu))
                result["raw"] = bytes(data) + bytes([sw1, sw2])
            except Exception as exc:  # pyscard raises several unrelated types
                result["error"] = exc

        t = threading.Thread(target=work, daemon=True)
        t.start()
        t.join(self.timeout)
        if t.is_alive():
            self._broken = True
            raise TransportError(f"the card did not answer within {self.timeout:.1f} s")
        if "error" in result:
            self._broken = True
            raise CardRemoved(f"card removed or link lost: {result['error']}") from result["error"]
        return bytes(result["raw"])

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # closing a dead link is best effort
                self._conn.disconnect()
            _release(self._conn)
            self._conn = None

    def __enter__(self) -> PcscTransport:
        return self.connect() if self._conn is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()
