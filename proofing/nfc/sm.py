"""ICAO 9303 Part 11 section 9.8 secure messaging, both directions, 3DES and AES.

One :class:`SecureMessaging` holds the session keys and the send sequence counter (SSC).
The terminal uses :meth:`protect` / :meth:`unprotect`; the virtual chip uses the mirror
pair :meth:`unprotect_command` / :meth:`protect_response`. Every response MAC is checked:
a mismatch raises :class:`SecureMessagingError` and closes the session for good, because
after a bad MAC neither side can trust the counter any more.
"""

from __future__ import annotations

from dataclasses import dataclass

from proofing.nfc import crypto
from proofing.nfc.apdu import CommandApdu, ResponseApdu
from proofing.nfc.crypto import CipherName
from proofing.nfc.errors import SecureMessagingError
from proofing.nfc.tlv import TlvError, encode, iter_tlv


@dataclass
class SecureMessaging:
    cipher: CipherName
    ks_enc: bytes
    ks_mac: bytes
    ssc: int = 0
    closed: bool = False

    @property
    def block(self) -> int:
        return crypto.block_size(self.cipher)

    def ssc_bytes(self) -> bytes:
        return self.ssc.to_bytes(self.block, "big")

    def _next(self) -> bytes:
        if self.closed:
            raise SecureMessagingError("secure messaging session is closed")
        self.ssc = (self.ssc + 1) % (1 << (8 * self.block))
        return self.ssc_bytes()

    def _iv(self, ssc: bytes) -> bytes | None:
        # 3DES: zero IV. AES: IV = E(KS_enc, SSC) (Part 11 9.8.6.1).
        return None if self.cipher == "3DES" else crypto.aes_ecb_block(self.ks_enc, ssc)

    def _encrypt(self, ssc: bytes, data: bytes) -> bytes:
        return crypto.cbc_encrypt(self.cipher, self.ks_enc, crypto.pad(data, self.block), self._iv(ssc))

    def _decrypt(self, ssc: bytes, data: bytes) -> bytes:
        if not data or len(data) % self.block:
            raise SecureMessagingError("cryptogram is not a whole number of blocks")
        try:
            return crypto.unpad(crypto.cbc_decrypt(self.cipher, self.ks_enc, data, self._iv(ssc)))
        except ValueError as exc:
            raise SecureMessagingError(f"cryptogram does not decrypt: {exc}") from exc

    def _mac(self, ssc: bytes, data: bytes) -> bytes:
        return crypto.mac(self.cipher, self.ks_mac, ssc + data)

    def fail(self, message: str) -> SecureMessagingError:
        self.closed = True
        return SecureMessagingError(message)

    # -- terminal side ---------------------------------------------------------------------

    def protect(self, cmd: CommandApdu) -> CommandApdu:
        """Wrap a plain command: encrypt its data (DO'87'/'85'), add Le (DO'97') and the MAC."""
        ssc = self._next()
        cla = cmd.cla | 0x0C
        header = bytes([cla, cmd.ins, cmd.p1, cmd.p2])
        dos = b""
        if cmd.data:
            cryptogram = self._encrypt(ssc, cmd.data)
            dos += encode(0x85, cryptogram) if cmd.ins & 1 else encode(0x87, b"\x01" + cryptogram)
        if cmd.le is not None:
            dos += encode(0x97, _le_bytes(cmd.le, cmd.is_extended()))
        cc = self._mac(ssc, crypto.pad(header, self.block) + dos)
        body = dos + encode(0x8E, cc)
        extended = cmd.is_extended() or len(body) > 255
        return CommandApdu(cla, cmd.ins, cmd.p1, cmd.p2, body, 65536 if extended else 256, extended)

    def unprotect(self, resp: ResponseApdu) -> ResponseApdu:
        """Check the MAC of a protected response and decrypt it.

        A bare error status without data objects (a chip that answers 6A82 in plain) is
        passed on as that error; it can never read as success.
        """
        ssc = self._next()
        if not resp.data:
            if resp.sw == 0x9000 or resp.sw1 == 0x61:
                raise self.fail(f"unprotected response {resp.sw:04X} inside secure messaging")
            if resp.sw in (0x6987, 0x6988):
                self.closed = True
            return resp
        try:
            objs = list(iter_tlv(resp.data))
        except TlvError as exc:
            raise self.fail(f"malformed protected response: {exc}") from exc
        tags = [o.tag for o in objs]
        if not tags or tags[-1] != 0x8E or 0x99 not in tags or tags.count(0x8E) != 1:
            raise self.fail("protected response lacks DO'99' or DO'8E'")
        mac_obj = objs[-1]
        covered = resp.data[: mac_obj.start]
        if not crypto.equal(self._mac(ssc, covered), mac_obj.value):
            raise self.fail("response MAC does not verify")
        data = b""
        sw = None
        for o in objs[:-1]:
            if o.tag == 0x87:
                if not o.value or o.value[0] != 0x01:
                    raise self.fail("DO'87' without padding indicator 01")
                data = self._decrypt(ssc, o.value[1:])
            elif o.tag == 0x85:
                data = self._decrypt(ssc, o.value)
            elif o.tag == 0x99:
                if len(o.value) != 2:
                    raise self.fail("DO'99' is not two bytes")
                sw = int.from_bytes(o.value, "big")
        assert sw is not None
        return ResponseApdu(data, sw)

    # -- chip side -------------------------------------------------------------------------

    def unprotect_command(self, cmd: CommandApdu) -> CommandApdu:
        """Chip side: verify and decrypt a protected command (raises on any SM error)."""
        ssc = self._next()
        if cmd.cla & 0x0C != 0x0C:
            raise self.fail("command is not protected")
        try:
            objs = list(iter_tlv(cmd.data))
        except TlvError as exc:
            raise self.fail(f"malformed protected command: {exc}") from exc
        if not objs or objs[-1].tag != 0x8E:
            raise self.fail("protected command lacks DO'8E'")
        covered = cmd.data[: objs[-1].start]
        if not crypto.equal(self._mac(ssc, crypto.pad(cmd.header, self.block) + covered), objs[-1].value):
            raise self.fail("command MAC does not verify")
        data = b""
        le: int | None = None
        for o in objs[:-1]:
            if o.tag == 0x87:
                if not o.value or o.value[0] != 0x01:
                    raise self.fail("DO'87' without padding indicator 01")
                data = self._decrypt(ssc, o.value[1:])
            elif o.tag == 0x85:
                data = self._decrypt(ssc, o.value)
            elif o.tag == 0x97:
                v = int.from_bytes(o.value, "big")
                le = v or (256 if len(o.value) <= 1 else 65536)
            else:
                raise self.fail(f"unexpected DO {o.tag:X} in protected command")
        return CommandApdu(cmd.cla & 0xF3, cmd.ins, cmd.p1, cmd.p2, data, le,
                           extended=le is not None and le > 256)

    def protect_response(self, resp: ResponseApdu, *, odd_ins: bool = False) -> ResponseApdu:
        """Chip side: encrypt the response data and add DO'99' and the MAC."""
        ssc = self._next()
        dos = b""
        if resp.data:
            cryptogram = self._encrypt(ssc, resp.data)
            dos += encode(0x85, cryptogram) if odd_ins else encode(0x87, b"\x01" + cryptogram)
        dos += encode(0x99, resp.sw.to_bytes(2, "big"))
        cc = self._mac(ssc, dos)
        return ResponseApdu(dos + encode(0x8E, cc), resp.sw)


def _le_bytes(le: int, extended: bool) -> bytes:
    if le <= 256 and not extended:
        return bytes([le % 256])
    return (le % 65536).to_bytes(2, "big")
