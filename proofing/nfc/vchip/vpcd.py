"""The card side of the vsmartcard ``vpcd`` protocol (virtual PC/SC reader for pcscd).

pcscd's vpcd driver listens on TCP (35963 by default); a virtual card connects to it.
Every message is a 2-byte big-endian length and a payload. A 1-byte payload is a control
code: 0 power off, 1 power on, 2 reset (no answer), 4 get ATR (answer: the ATR). Anything
longer is a command APDU, answered with the response APDU. Closing the socket is the card
leaving the field.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time

from proofing.nfc.vchip.card import DropConnection, VirtualChip

log = logging.getLogger(__name__)

CTRL_OFF, CTRL_ON, CTRL_RESET, CTRL_ATR = 0, 1, 2, 4


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        _quickack(sock)
        part = sock.recv(n - len(buf))
        if not part:
            return None
        buf += part
    return buf


def _quickack(sock: socket.socket) -> None:
    # vpcd writes the length and the APDU separately; without immediate ACKs, Nagle on its
    # side and delayed ACK on ours add ~40 ms to every APDU (Linux only; harmless elsewhere).
    quickack = getattr(socket, "TCP_QUICKACK", None)
    if quickack is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, quickack, 1)


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(len(payload).to_bytes(2, "big") + payload)


def serve_once(chip: VirtualChip, sock: socket.socket) -> str:
    """Answer vpcd until it hangs up or a fault drops the card; says which.

    "unused" means vpcd hung up before sending anything: it was still busy with the card
    before this one, and the caller should simply connect again.
    """
    used = False
    while True:
        head = _recv_exact(sock, 2)
        if head is None:
            return "closed" if used else "unused"
        used = True
        payload = _recv_exact(sock, int.from_bytes(head, "big"))
        if payload is None:
            return "closed"
        if len(payload) == 1:
            code = payload[0]
            if code in (CTRL_ON, CTRL_RESET):
                chip.power_on()
            elif code == CTRL_OFF:
                chip.power_on()  # state is lost on power off; the next power on starts clean
            elif code == CTRL_ATR:
                _send(sock, chip.atr)
            continue
        try:
            answer = chip.process(payload)
        except DropConnection:
            return "dropped"
        _send(sock, answer)


def run(chip: VirtualChip, host: str = "127.0.0.1", port: int = 35963, *, reconnect: bool = True,
        connect_timeout: float = 30.0) -> None:
    """Connect to vpcd and serve; after a hang-up, reconnect (unless told not to)."""
    deadline = time.monotonic() + connect_timeout
    while True:
        try:
            sock = socket.create_connection((host, port), timeout=5)
        except OSError as exc:
            if time.monotonic() > deadline:
                raise ConnectionError(f"vpcd not reachable at {host}:{port}: {exc}") from exc
            time.sleep(0.2)
            continue
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with sock:
            how = serve_once(chip, sock)
        log.info("vpcd connection ended: %s", how)
        if how == "unused" and time.monotonic() < deadline:
            time.sleep(0.2)
            continue
        if how == "dropped" or not reconnect:
            return
        chip.power_on()
        deadline = time.monotonic() + connect_timeout
