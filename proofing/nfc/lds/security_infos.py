"""SecurityInfos (BSI TR-03110 Part 3, ICAO 9303 Part 11): DG14, EF.CardAccess, EF.CardSecurity.

A SET OF SecurityInfo ``SEQUENCE { protocol OID, requiredData ANY, optionalData ANY OPTIONAL }``;
the protocol OID says how to read the rest. Known kinds become typed dataclasses, unknown
ones are kept as :class:`UnknownSecurityInfo` (a chip may carry protocols we do not use).
Every info can encode itself again (``to_der``) so test chips are built from the same types.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from asn1crypto import core

from proofing.nfc.lds.errors import LdsError
from proofing.nfc.lds.keys import PublicKeyInfo, parse_spki
from proofing.nfc.lds.util import guarded, unwrap
from proofing.nfc.tlv import encode

BSI_DE = "0.4.0.127.0.7"
ID_PK = BSI_DE + ".2.2.1"
ID_PK_DH = ID_PK + ".1"
ID_PK_ECDH = ID_PK + ".2"
ID_TA = BSI_DE + ".2.2.2"
ID_CA = BSI_DE + ".2.2.3"
ID_CA_DH = ID_CA + ".1"
ID_CA_ECDH = ID_CA + ".2"
ID_PACE = BSI_DE + ".2.2.4"
ID_RI = BSI_DE + ".2.2.5"
ID_AA = "2.23.136.1.1.5"
#: ECDSA plain signatures (BSI TR-03111): r||s, used by EC Active Authentication.
ID_ECDSA_PLAIN = BSI_DE + ".1.1.4.1"

_KA = {"1": "DH", "2": "ECDH", "3": "DH", "4": "ECDH", "6": "ECDH"}
_MAPPING = {"1": "GM", "2": "GM", "3": "IM", "4": "IM", "6": "CAM"}
_CIPHERS = {"1": ("3DES", 112), "2": ("AES", 128), "3": ("AES", 192), "4": ("AES", 256)}

#: Readable names for the PACE / CA protocol OIDs (e.g. 'id-PACE-ECDH-GM-AES-CBC-CMAC-128').
PACE_PROTOCOLS: dict[str, str] = {}
CA_PROTOCOLS: dict[str, str] = {}
for _m, _ka in _KA.items():
    for _c, (_cipher, _bits) in _CIPHERS.items():
        if _m == "6" and _c == "1":
            continue
        _suffix = "3DES-CBC-CBC" if _cipher == "3DES" else f"AES-CBC-CMAC-{_bits}"
        PACE_PROTOCOLS[f"{ID_PACE}.{_m}.{_c}"] = f"id-PACE-{_ka}-{_MAPPING[_m]}-{_suffix}"
for _k, _ka in (("1", "DH"), ("2", "ECDH")):
    for _c, (_cipher, _bits) in _CIPHERS.items():
        _suffix = "3DES-CBC-CBC" if _cipher == "3DES" else f"AES-CBC-CMAC-{_bits}"
        CA_PROTOCOLS[f"{ID_CA}.{_k}.{_c}"] = f"id-CA-{_ka}-{_suffix}"

#: AA signature algorithm OIDs -> hash names.
AA_SIGNATURE_HASHES: dict[str, str] = {
    ID_ECDSA_PLAIN + ".1": "sha1",
    ID_ECDSA_PLAIN + ".2": "sha224",
    ID_ECDSA_PLAIN + ".3": "sha256",
    ID_ECDSA_PLAIN + ".4": "sha384",
    ID_ECDSA_PLAIN + ".5": "sha512",
    "1.2.840.10045.4.1": "sha1",
    "1.2.840.10045.4.3.1": "sha224",
    "1.2.840.10045.4.3.2": "sha256",
    "1.2.840.10045.4.3.3": "sha384",
    "1.2.840.10045.4.3.4": "sha512",
}


def _cipher_of(protocol: str) -> tuple[str, int]:
    return _CIPHERS.get(protocol.rsplit(".", 1)[-1], ("?", 0))


def _seq(*items: core.Asn1Value) -> bytes:
    return encode(0x30, b"".join(i.dump() for i in items))


@dataclass(frozen=True)
class PaceInfo:
    protocol: str
    version: int
    parameter_id: int | None = None

    @property
    def name(self) -> str:
        return PACE_PROTOCOLS.get(self.protocol, self.protocol)

    @property
    def key_agreement(self) -> str:  # "DH" | "ECDH"
        return _KA.get(self.protocol.split(".")[-2], "?")

    @property
    def mapping(self) -> str:  # "GM" | "IM" | "CAM"
        return _MAPPING.get(self.protocol.split(".")[-2], "?")

    @property
    def cipher(self) -> str:  # "3DES" | "AES"
        return _cipher_of(self.protocol)[0]

    @property
    def key_length(self) -> int:  # session key bits: 112, 128, 192, 256
        return _cipher_of(self.protocol)[1]

    def to_der(self) -> bytes:
        items: list[core.Asn1Value] = [
            core.ObjectIdentifier(self.protocol),
            core.Integer(self.version),
        ]
        if self.parameter_id is not None:
            items.append(core.Integer(self.parameter_id))
        return _seq(*items)


@dataclass(frozen=True)
class PaceDomainParameterInfo:
    """Proprietary PACE domain parameters: an AlgorithmIdentifier (DER kept as is)."""

    protocol: str
    domain_parameter: bytes
    parameter_id: int | None = None

    def to_der(self) -> bytes:
        items: list[core.Asn1Value] = [
            core.ObjectIdentifier(self.protocol),
            core.Any.load(self.domain_parameter),
        ]
        if self.parameter_id is not None:
            items.append(core.Integer(self.parameter_id))
        return _seq(*items)


@dataclass(frozen=True)
class ChipAuthenticationInfo:
    protocol: str
    version: int
    key_id: int | None = None

    @property
    def name(self) -> str:
        return CA_PROTOCOLS.get(self.protocol, self.protocol)

    @property
    def key_agreement(self) -> str:
        return "ECDH" if self.protocol.startswith(ID_CA_ECDH) else "DH"

    @property
    def cipher(self) -> str:
        return _cipher_of(self.protocol)[0]

    @property
    def key_length(self) -> int:
        return _cipher_of(self.protocol)[1]

    def to_der(self) -> bytes:
        items: list[core.Asn1Value] = [
            core.ObjectIdentifier(self.protocol),
            core.Integer(self.version),
        ]
        if self.key_id is not None:
            items.append(core.Integer(self.key_id))
        return _seq(*items)


@dataclass(frozen=True)
class ChipAuthenticationPublicKeyInfo:
    protocol: str  # id-PK-DH or id-PK-ECDH
    public_key: PublicKeyInfo
    key_id: int | None = None

    def to_der(self) -> bytes:
        items: list[core.Asn1Value] = [
            core.ObjectIdentifier(self.protocol),
            core.Any.load(self.public_key.spki),
        ]
        if self.key_id is not None:
            items.append(core.Integer(self.key_id))
        return _seq(*items)


@dataclass(frozen=True)
class ChipAuthenticationDomainParameterInfo:
    protocol: str  # id-CA-DH or id-CA-ECDH
    domain_parameter: bytes
    key_id: int | None = None

    def to_der(self) -> bytes:
        items: list[core.Asn1Value] = [
            core.ObjectIdentifier(self.protocol),
            core.Any.load(self.domain_parameter),
        ]
        if self.key_id is not None:
            items.append(core.Integer(self.key_id))
        return _seq(*items)


@dataclass(frozen=True)
class ActiveAuthenticationInfo:
    protocol: str
    version: int
    signature_algorithm: str

    @property
    def hash_name(self) -> str | None:
        return AA_SIGNATURE_HASHES.get(self.signature_algorithm)

    def to_der(self) -> bytes:
        return _seq(
            core.ObjectIdentifier(self.protocol),
            core.Integer(self.version),
            core.ObjectIdentifier(self.signature_algorithm),
        )


@dataclass(frozen=True)
class TerminalAuthenticationInfo:
    protocol: str
    version: int
    ef_cvca: bytes | None = None  # FileID DER, kept raw

    def to_der(self) -> bytes:
        items: list[core.Asn1Value] = [
            core.ObjectIdentifier(self.protocol),
            core.Integer(self.version),
        ]
        if self.ef_cvca is not None:
            items.append(core.Any.load(self.ef_cvca))
        return _seq(*items)


@dataclass(frozen=True)
class UnknownSecurityInfo:
    protocol: str
    der: bytes

    def to_der(self) -> bytes:
        return self.der


SecurityInfo = (
    PaceInfo
    | PaceDomainParameterInfo
    | ChipAuthenticationInfo
    | ChipAuthenticationPublicKeyInfo
    | ChipAuthenticationDomainParameterInfo
    | ActiveAuthenticationInfo
    | TerminalAuthenticationInfo
    | UnknownSecurityInfo
)


@dataclass(frozen=True)
class SecurityInfos:
    infos: list[SecurityInfo] = field(default_factory=list)

    def _of(self, kind: type) -> list:
        return [i for i in self.infos if isinstance(i, kind)]

    @property
    def pace(self) -> list[PaceInfo]:
        return self._of(PaceInfo)

    @property
    def pace_domain_parameters(self) -> list[PaceDomainParameterInfo]:
        return self._of(PaceDomainParameterInfo)

    @property
    def chip_authentication(self) -> list[ChipAuthenticationInfo]:
        return self._of(ChipAuthenticationInfo)

    @property
    def chip_authentication_public_keys(self) -> list[ChipAuthenticationPublicKeyInfo]:
        return self._of(ChipAuthenticationPublicKeyInfo)

    @property
    def chip_authentication_domain_parameters(self) -> list[ChipAuthenticationDomainParameterInfo]:
        return self._of(ChipAuthenticationDomainParameterInfo)

    @property
    def active_authentication(self) -> ActiveAuthenticationInfo | None:
        found = self._of(ActiveAuthenticationInfo)
        return found[0] if found else None

    @property
    def terminal_authentication(self) -> list[TerminalAuthenticationInfo]:
        return self._of(TerminalAuthenticationInfo)

    def ca_key_for(self, info: ChipAuthenticationInfo) -> ChipAuthenticationPublicKeyInfo | None:
        """The CA public key that goes with a ChipAuthenticationInfo (same keyId, or the only one)."""
        keys = self.chip_authentication_public_keys
        if info.key_id is not None:
            for k in keys:
                if k.key_id == info.key_id:
                    return k
        return keys[0] if len(keys) == 1 or (keys and info.key_id is None) else None

    def to_der(self) -> bytes:
        """SET OF in the order given (chips keep their own order; parse -> encode round-trips)."""
        return encode(0x31, b"".join(i.to_der() for i in self.infos))

    def to_dict(self) -> dict[str, object]:
        return {
            "pace": [{"protocol": p.name, "parameter_id": p.parameter_id} for p in self.pace],
            "chip_authentication": [
                {"protocol": c.name, "key_id": c.key_id} for c in self.chip_authentication
            ],
            "chip_authentication_public_keys": [
                {"key_id": k.key_id, **k.public_key.to_dict()}
                for k in self.chip_authentication_public_keys
            ],
            "active_authentication": (
                {"signature_algorithm": self.active_authentication.signature_algorithm}
                if self.active_authentication
                else None
            ),
            "terminal_authentication": bool(self.terminal_authentication),
            "unknown": [i.protocol for i in self._of(UnknownSecurityInfo)],
        }


class _RawInfo(core.Sequence):
    _fields = [
        ("protocol", core.ObjectIdentifier),
        ("required", core.Any),
        ("optional", core.Any, {"optional": True}),
    ]


class _RawInfos(core.SetOf):
    _child_spec = _RawInfo


def _int(value: core.Any, what: str) -> int:
    parsed = value.parse()
    if not isinstance(parsed, core.Integer):
        raise LdsError(f"{what} must be an INTEGER")
    return int(parsed.native)


def _one(raw: _RawInfo) -> SecurityInfo:
    oid = raw["protocol"].dotted
    req = raw["required"]
    opt_value = raw["optional"]
    opt = None if isinstance(opt_value, core.Void) else opt_value
    if oid in PACE_PROTOCOLS:
        return PaceInfo(
            oid,
            _int(req, "PACEInfo.version"),
            _int(opt, "parameterId") if opt is not None else None,
        )
    if oid.startswith(ID_PACE + ".") and oid.count(".") == ID_PACE.count(".") + 1:
        return PaceDomainParameterInfo(
            oid, req.dump(), _int(opt, "parameterId") if opt is not None else None
        )
    if oid in CA_PROTOCOLS:
        return ChipAuthenticationInfo(
            oid,
            _int(req, "ChipAuthenticationInfo.version"),
            _int(opt, "keyId") if opt is not None else None,
        )
    if oid in (ID_CA_DH, ID_CA_ECDH):
        return ChipAuthenticationDomainParameterInfo(
            oid, req.dump(), _int(opt, "keyId") if opt is not None else None
        )
    if oid in (ID_PK_DH, ID_PK_ECDH):
        return ChipAuthenticationPublicKeyInfo(
            oid, parse_spki(req.dump()), _int(opt, "keyId") if opt is not None else None
        )
    if oid == ID_AA:
        if opt is None:
            raise LdsError("ActiveAuthenticationInfo needs a signatureAlgorithm")
        alg = opt.parse()
        if not isinstance(alg, core.ObjectIdentifier):
            raise LdsError("ActiveAuthenticationInfo.signatureAlgorithm must be an OID")
        return ActiveAuthenticationInfo(
            oid, _int(req, "ActiveAuthenticationInfo.version"), alg.dotted
        )
    if oid == ID_TA or oid.startswith(ID_TA + "."):
        return TerminalAuthenticationInfo(
            oid,
            _int(req, "TerminalAuthenticationInfo.version"),
            opt.dump() if opt is not None else None,
        )
    return UnknownSecurityInfo(oid, raw.dump())


def parse_security_infos(der: bytes) -> SecurityInfos:
    """Parse a DER SET OF SecurityInfo (the content of EF.CardAccess, DG14 and EF.CardSecurity)."""

    def run() -> SecurityInfos:
        raw = _RawInfos.load(der, strict=True)
        infos = [_one(r) for r in raw]
        if not infos:
            raise LdsError("empty SET OF SecurityInfo")
        return SecurityInfos(infos)

    return guarded("SecurityInfos", run)


def parse_card_access(data: bytes) -> SecurityInfos:
    """EF.CardAccess is a bare SecurityInfos (trailing 0x00/0xFF padding ignored)."""
    obj = unwrap(data, 0x31, "EF.CardAccess")
    return parse_security_infos(data[obj.start : obj.end])


def parse_dg14(data: bytes) -> SecurityInfos:
    """DG14 = tag 6E around SecurityInfos."""
    return parse_security_infos(unwrap(data, 0x6E, "DG14").value)


def encode_dg14(infos: SecurityInfos) -> bytes:
    return encode(0x6E, infos.to_der())
