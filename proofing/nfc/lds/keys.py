"""SubjectPublicKeyInfo as chips encode it: RSA, EC (named or EXPLICIT parameters) and DH.

Used for DG15 (Active Authentication key), DG14 / EF.CardAccess (Chip Authentication and
PACE keys) and Document Signer certificates. Explicit EC parameters are mapped to the
named curve when they match one we know, so ``cryptography`` can take over; otherwise the
caller uses :mod:`proofing.nfc.lds.curves` arithmetic through :func:`verify_ecdsa`.
"""

from __future__ import annotations

from dataclasses import dataclass

from asn1crypto import core, keys
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dh as crypto_dh
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature
from cryptography.hazmat.primitives.hashes import (
    SHA1,
    SHA224,
    SHA256,
    SHA384,
    SHA512,
    HashAlgorithm,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from proofing.nfc.lds.curves import (
    CURVES,
    STANDARD_DOMAIN_PARAMETERS,
    EcCurve,
    ecdsa_verify,
    find_named,
)
from proofing.nfc.lds.errors import LdsError
from proofing.nfc.lds.util import guarded
from proofing.nfc.tlv import encode

OID_RSA = "1.2.840.113549.1.1.1"
OID_RSA_PSS = "1.2.840.113549.1.1.10"
OID_EC = "1.2.840.10045.2.1"
OID_DH_PKCS3 = "1.2.840.113549.1.3.1"
OID_DH_X942 = "1.2.840.10046.2.1"
OID_PK_DH = "0.4.0.127.0.7.2.2.1.1"
OID_PK_ECDH = "0.4.0.127.0.7.2.2.1.2"
#: BSI TR-03110 id-StandardizedDomainParameters: the parameters are an INTEGER id.
OID_STANDARDIZED_DOMAIN_PARAMETERS = "0.4.0.127.0.7.1.2"

#: Named-curve OIDs -> our curve names.
CURVE_OIDS: dict[str, str] = {
    "1.2.840.10045.3.1.1": "secp192r1",
    "1.3.132.0.33": "secp224r1",
    "1.2.840.10045.3.1.7": "secp256r1",
    "1.3.132.0.34": "secp384r1",
    "1.3.132.0.35": "secp521r1",
    "1.3.36.3.3.2.8.1.1.3": "brainpoolP192r1",
    "1.3.36.3.3.2.8.1.1.5": "brainpoolP224r1",
    "1.3.36.3.3.2.8.1.1.7": "brainpoolP256r1",
    "1.3.36.3.3.2.8.1.1.9": "brainpoolP320r1",
    "1.3.36.3.3.2.8.1.1.11": "brainpoolP384r1",
    "1.3.36.3.3.2.8.1.1.13": "brainpoolP512r1",
}
CURVE_OID_BY_NAME = {v: k for k, v in CURVE_OIDS.items()}

#: Curves ``cryptography`` implements, by our name.
_CRYPTOGRAPHY_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "secp192r1": ec.SECP192R1,
    "secp224r1": ec.SECP224R1,
    "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
    "secp521r1": ec.SECP521R1,
    "brainpoolP256r1": ec.BrainpoolP256R1,
    "brainpoolP384r1": ec.BrainpoolP384R1,
    "brainpoolP512r1": ec.BrainpoolP512R1,
}

HASHES: dict[str, type[HashAlgorithm]] = {
    "sha1": SHA1,
    "sha224": SHA224,
    "sha256": SHA256,
    "sha384": SHA384,
    "sha512": SHA512,
}


@dataclass(frozen=True)
class DhParams:
    p: int
    g: int
    q: int | None = None


@dataclass(frozen=True)
class PublicKeyInfo:
    """A parsed SubjectPublicKeyInfo. Exactly the fields of its ``algorithm`` are set."""

    algorithm: str  # "rsa" | "ec" | "dh"
    spki: bytes  # DER, as found
    algorithm_oid: str
    rsa_n: int | None = None
    rsa_e: int | None = None
    curve: EcCurve | None = None  # named where the parameters match a known curve
    explicit_params: bool = False
    point: bytes | None = None  # uncompressed EC point 04||X||Y
    dh: DhParams | None = None
    dh_y: int | None = None

    @property
    def bits(self) -> int:
        if self.rsa_n is not None:
            return self.rsa_n.bit_length()
        if self.curve is not None:
            return self.curve.n.bit_length()
        return self.dh.p.bit_length() if self.dh else 0

    @property
    def curve_name(self) -> str | None:
        return self.curve.name if self.curve else None

    def to_cryptography(
        self,
    ) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey | crypto_dh.DHPublicKey:
        """The key as a ``cryptography`` object; LdsError where the library lacks the curve."""
        if self.algorithm == "rsa" and self.rsa_n is not None and self.rsa_e is not None:
            return rsa.RSAPublicNumbers(self.rsa_e, self.rsa_n).public_key()
        if self.algorithm == "ec" and self.curve is not None and self.point is not None:
            cls = _CRYPTOGRAPHY_CURVES.get(self.curve.name or "")
            if cls is None:
                raise LdsError(
                    f"curve {self.curve.name or 'explicit'} is not supported by cryptography"
                )
            return ec.EllipticCurvePublicKey.from_encoded_point(cls(), self.point)
        if self.algorithm == "dh" and self.dh is not None and self.dh_y is not None:
            params = crypto_dh.DHParameterNumbers(self.dh.p, self.dh.g, self.dh.q)
            return crypto_dh.DHPublicNumbers(self.dh_y, params).public_key()
        raise LdsError(f"incomplete {self.algorithm} key")

    def to_dict(self) -> dict[str, object]:
        return {
            "algorithm": self.algorithm,
            "bits": self.bits,
            "curve": self.curve_name if self.curve else None,
            "explicit_params": self.explicit_params,
        }


def parse_ec_parameters(params: keys.ECDomainParameters) -> tuple[EcCurve, bool]:
    """ECParameters (named or specified) -> (curve, explicit?). Unknown OIDs are an error."""
    if params.name == "named":
        oid = params.chosen.dotted
        name = CURVE_OIDS.get(oid)
        if name is None:
            raise LdsError(f"unknown named curve {oid}")
        return CURVES[name], False
    if params.name != "specified":
        raise LdsError("implicitCA EC parameters are not supported")
    spec = params.chosen
    if spec["field_id"]["field_type"].native != "prime_field":
        raise LdsError("only prime-field curves are supported")
    p = int(spec["field_id"]["parameters"].native)
    base = spec["base"].native
    size = (p.bit_length() + 7) // 8
    if len(base) != 1 + 2 * size or base[0] != 4:
        raise LdsError("EC base point must be uncompressed")
    cof = spec["cofactor"].native
    curve = EcCurve(
        None,
        p=p,
        a=int.from_bytes(spec["curve"]["a"].native, "big"),
        b=int.from_bytes(spec["curve"]["b"].native, "big"),
        gx=int.from_bytes(base[1 : 1 + size], "big"),
        gy=int.from_bytes(base[1 + size :], "big"),
        n=int(spec["order"].native),
        h=int(cof) if cof is not None else 1,
    )
    return find_named(curve) or curve, True


def parse_spki(der: bytes) -> PublicKeyInfo:
    """Parse a DER SubjectPublicKeyInfo (as in DG15, DG14, certificates)."""
    return guarded("SubjectPublicKeyInfo", lambda: _parse_spki(der))


def _parse_spki(der: bytes) -> PublicKeyInfo:
    outer = core.Sequence.load(der, strict=True)
    alg = core.Sequence.load(outer[0].dump())
    oid = core.ObjectIdentifier.load(alg[0].dump()).dotted
    params_der = alg[1].dump() if len(alg) > 1 else b""
    bits = core.BitString.load(outer[1].dump())
    key_bytes = bits.contents[1:]
    if oid in (OID_RSA, OID_RSA_PSS):
        pk = keys.RSAPublicKey.load(key_bytes, strict=True)
        return PublicKeyInfo(
            "rsa", der, oid, rsa_n=pk["modulus"].native, rsa_e=pk["public_exponent"].native
        )
    if oid in (OID_EC, OID_PK_ECDH):
        params = keys.ECDomainParameters.load(params_der)
        curve, explicit = parse_ec_parameters(params)
        point = bytes(key_bytes)
        try:
            curve.decode_point(point)
        except ValueError as exc:
            raise LdsError(f"EC public key: {exc}") from exc
        return PublicKeyInfo("ec", der, oid, curve=curve, explicit_params=explicit, point=point)
    if oid == OID_STANDARDIZED_DOMAIN_PARAMETERS:
        param_id = int(core.Integer.load(params_der, strict=True).native)
        name = STANDARD_DOMAIN_PARAMETERS.get(param_id)
        if name not in CURVES:
            raise LdsError(f"standardized domain parameters {param_id} are not a supported curve")
        curve = CURVES[name or ""]
        point = bytes(key_bytes)
        try:
            curve.decode_point(point)
        except ValueError as exc:
            raise LdsError(f"EC public key: {exc}") from exc
        return PublicKeyInfo("ec", der, oid, curve=curve, point=point)
    if oid in (OID_DH_PKCS3, OID_DH_X942, OID_PK_DH):
        seq = core.Sequence.load(params_der)
        ints = [int(seq[i].native) for i in range(len(seq)) if isinstance(seq[i], core.Integer)]
        if len(ints) < 2:
            raise LdsError("DH parameters need at least p and g")
        if oid == OID_DH_X942:  # DomainParameters: p, g, q, ...
            params_dh = DhParams(ints[0], ints[1], ints[2] if len(ints) > 2 else None)
        else:  # PKCS #3 DHParameter: prime, base, privateValueLength
            params_dh = DhParams(ints[0], ints[1], None)
        y = core.Integer.load(bytes(key_bytes), strict=True).native
        return PublicKeyInfo("dh", der, oid, dh=params_dh, dh_y=int(y))
    raise LdsError(f"unsupported public key algorithm {oid}")


def ec_spki(
    curve: EcCurve, point: bytes, *, explicit: bool = False, algorithm_oid: str = OID_EC
) -> bytes:
    """Encode an EC SubjectPublicKeyInfo, with named or explicit parameters (test chips)."""
    if explicit or curve.name not in CURVE_OID_BY_NAME:
        size = curve.field_bytes
        params = keys.ECDomainParameters(
            name="specified",
            value=keys.SpecifiedECDomain(
                {
                    "version": "ecdpVer1",
                    "field_id": {"field_type": "prime_field", "parameters": curve.p},
                    "curve": {
                        "a": curve.a.to_bytes(size, "big"),
                        "b": curve.b.to_bytes(size, "big"),
                    },
                    "base": curve.encode_point(curve.generator),
                    "order": curve.n,
                    "cofactor": curve.h,
                }
            ),
        )
    else:
        params = keys.ECDomainParameters(name="named", value=CURVE_OID_BY_NAME[curve.name or ""])
    alg = encode(0x30, core.ObjectIdentifier(algorithm_oid).dump() + params.dump())
    return encode(0x30, alg + encode(0x03, b"\x00" + point))


def key_to_spki(key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def verify_ecdsa(key: PublicKeyInfo, digest: bytes, signature_der: bytes) -> bool:
    """ECDSA over a precomputed digest, DER signature; own arithmetic for curves cryptography lacks."""
    try:
        r, s = decode_dss_signature(signature_der)
    except ValueError:
        return False
    return verify_ecdsa_rs(key, digest, r, s)


def verify_ecdsa_rs(key: PublicKeyInfo, digest: bytes, r: int, s: int) -> bool:
    if key.curve is None or key.point is None:
        return False
    if key.curve.name in _CRYPTOGRAPHY_CURVES:
        pub = key.to_cryptography()
        assert isinstance(pub, ec.EllipticCurvePublicKey)
        by_size: dict[int, type[HashAlgorithm]] = {
            20: SHA1,
            28: SHA224,
            32: SHA256,
            48: SHA384,
            64: SHA512,
        }
        hash_cls = by_size.get(len(digest))
        if hash_cls is not None:
            from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

            try:
                pub.verify(encode_dss_signature(r, s), digest, ec.ECDSA(Prehashed(hash_cls())))
                return True
            except (InvalidSignature, UnsupportedAlgorithm):
                return False
    return ecdsa_verify(key.curve, key.curve.decode_point(key.point), digest, r, s)
