"""The CSCA trust store: which Country Signing CA certificates we accept, and their CRLs.

Sources: CMS master lists (.ml / .mls; their own signature verified against the signer
certificate they carry, and that signer chained to a given root where one is provided),
single certificate files (.cer / .der / .crt / .pem, or directories of them, link
certificates included) and CRLs (.crl). Certificates are parsed with asn1crypto and keys
with :mod:`proofing.nfc.lds.keys`, because many CSCAs use EC keys with explicit domain
parameters that ``cryptography`` refuses to load.

:func:`verify_signature` (RSA PKCS#1 v1.5, RSA-PSS, ECDSA on named or explicit curves) is
shared with passive authentication.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from asn1crypto import algos, core, crl, pem, x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from proofing.nfc.lds.errors import LdsError
from proofing.nfc.lds.keys import HASHES, PublicKeyInfo, parse_spki, verify_ecdsa
from proofing.nfc.lds.sod import HASH_OIDS, OID_CSCA_MASTER_LIST, SignedContent, parse_signed_data

CERT_SUFFIXES = {".cer", ".der", ".crt", ".pem"}
MASTER_LIST_SUFFIXES = {".ml", ".mls"}
CRL_SUFFIXES = {".crl"}


# --- signatures ----------------------------------------------------------------------------


@dataclass(frozen=True)
class SignatureAlgorithm:
    kind: str  # "rsassa_pkcs1v15" | "rsassa_pss" | "ecdsa"
    hash_name: str
    mgf_hash: str | None = None
    salt_length: int | None = None


def signature_algorithm(
    alg: algos.SignedDigestAlgorithm, digest_fallback: str | None = None
) -> SignatureAlgorithm:
    """Read a (certificate / CRL / CMS) signatureAlgorithm; ``digest_fallback`` for bare rsaEncryption."""
    kind = alg.signature_algo
    if kind == "rsassa_pss":
        params = alg["parameters"]
        h = HASH_OIDS.get(params["hash_algorithm"]["algorithm"].dotted)
        mgf = HASH_OIDS.get(params["mask_gen_algorithm"]["parameters"]["algorithm"].dotted)
        if h is None or mgf is None:
            raise LdsError("unsupported RSA-PSS hash")
        return SignatureAlgorithm(kind, h, mgf, int(params["salt_length"].native))
    if kind not in ("rsassa_pkcs1v15", "ecdsa"):
        raise LdsError(f"unsupported signature algorithm {alg['algorithm'].dotted}")
    try:
        h = alg.hash_algo
    except ValueError:
        if digest_fallback is None:
            raise LdsError(f"signature algorithm {alg['algorithm'].dotted} names no hash") from None
        h = digest_fallback
    if h not in HASHES:
        raise LdsError(f"unsupported hash {h}")
    return SignatureAlgorithm(kind, h)


def verify_signature(
    key: PublicKeyInfo, alg: SignatureAlgorithm, data: bytes, signature: bytes
) -> bool:
    """True when ``signature`` over ``data`` verifies with ``key`` under ``alg``; never raises on a bad one."""
    if alg.kind == "ecdsa":
        if key.algorithm != "ec":
            return False
        return verify_ecdsa(key, hashlib.new(alg.hash_name, data).digest(), signature)
    if key.algorithm != "rsa":
        return False
    try:
        pub = key.to_cryptography()
    except (LdsError, ValueError):
        return False
    assert isinstance(pub, rsa.RSAPublicKey)
    h = HASHES[alg.hash_name]()
    pad: padding.AsymmetricPadding
    if alg.kind == "rsassa_pss":
        assert alg.mgf_hash is not None and alg.salt_length is not None
        pad = padding.PSS(mgf=padding.MGF1(HASHES[alg.mgf_hash]()), salt_length=alg.salt_length)
    else:
        pad = padding.PKCS1v15()
    try:
        pub.verify(signature, data, pad, h)
        return True
    except (InvalidSignature, ValueError):
        return False


# --- certificates --------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    """A parsed X.509 certificate with the fields chain building needs, computed once."""

    der: bytes
    subject: bytes  # DER Name
    issuer: bytes
    serial: int
    subject_key_id: bytes | None
    authority_key_id: bytes | None
    not_before: datetime
    not_after: datetime
    key: PublicKeyInfo
    tbs: bytes = field(repr=False)
    signature: bytes = field(repr=False)
    algorithm: SignatureAlgorithm
    subject_text: str
    issuer_text: str
    country: str | None
    source: str = ""

    @property
    def self_issued(self) -> bool:
        return self.subject == self.issuer

    def valid_at(self, when: datetime) -> bool:
        return self.not_before <= when <= self.not_after

    def signed_by(self, issuer: Certificate) -> bool:
        return verify_signature(issuer.key, self.algorithm, self.tbs, self.signature)

    def to_dict(self) -> dict[str, object]:
        return {
            "subject": self.subject_text,
            "issuer": self.issuer_text,
            "serial": format(self.serial, "X"),
            "not_before": self.not_before.isoformat(),
            "not_after": self.not_after.isoformat(),
            "key": self.key.to_dict(),
        }


def _name_key(der: bytes) -> bytes:
    """A comparison key for Names that ignores string-type / case differences (RFC 5280 7.1)."""
    try:
        return x509.Name.load(der).hashable.encode("utf-8")
    except (ValueError, TypeError):
        return der


def parse_certificate(der: bytes, source: str = "") -> Certificate:
    def run() -> Certificate:
        cert = x509.Certificate.load(der, strict=True)
        tbs = cert["tbs_certificate"]
        country = None
        for rdn in cert.subject.chosen:
            for atv in rdn:
                if atv["type"].native == "country_name":
                    country = str(atv["value"].native)
        return Certificate(
            der=der,
            subject=tbs["subject"].dump(),
            issuer=tbs["issuer"].dump(),
            serial=int(tbs["serial_number"].native),
            subject_key_id=cert.key_identifier,
            authority_key_id=cert.authority_key_identifier,
            not_before=tbs["validity"]["not_before"].native,
            not_after=tbs["validity"]["not_after"].native,
            key=parse_spki(tbs["subject_public_key_info"].dump()),
            tbs=tbs.dump(),
            signature=bytes(cert["signature_value"].native),
            algorithm=signature_algorithm(cert["signature_algorithm"]),
            subject_text=cert.subject.human_friendly,
            issuer_text=cert.issuer.human_friendly,
            country=country,
            source=source,
        )

    try:
        return run()
    except LdsError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise LdsError(f"certificate{' ' + source if source else ''}: {exc}") from exc


# --- master lists --------------------------------------------------------------------------


class _CertificateSet(core.SetOf):
    _child_spec = x509.Certificate


class _CscaMasterList(core.Sequence):
    _fields = [("version", core.Integer), ("cert_list", _CertificateSet)]


@dataclass(frozen=True)
class MasterListInfo:
    source: str
    certificates: int  # CSCA certificates taken into the store
    skipped: int  # entries that did not parse (unsupported key or encoding)
    signature_valid: bool  # the list's CMS signature with its signer certificate
    signer: str | None
    signer_chain_valid: bool | None  # signer issued by one of the given roots (None: no root given)

    def to_dict(self) -> dict[str, object]:
        return {
            "source": self.source,
            "certificates": self.certificates,
            "skipped": self.skipped,
            "signature_valid": self.signature_valid,
            "signer": self.signer,
            "signer_chain_valid": self.signer_chain_valid,
        }


def verify_signed_content(signed: SignedContent, signer: Certificate) -> bool:
    """CMS signature check: content-type and message-digest attributes, then the signature."""
    si = signed.signer
    try:
        alg = _cms_algorithm(signed)
    except LdsError:
        return False
    if si.signed_attrs is None:
        return verify_signature(signer.key, alg, signed.content, si.signature)
    digest = hashlib.new(si.digest_algorithm, signed.content).digest()
    if si.message_digest_attr != digest or si.content_type_attr != signed.content_type:
        return False
    return verify_signature(signer.key, alg, si.signed_attrs, si.signature)


def _cms_algorithm(signed: SignedContent) -> SignatureAlgorithm:
    si = signed.signer
    if si.pss is not None:
        return SignatureAlgorithm(
            "rsassa_pss", si.pss.hash_name, si.pss.mgf_hash_name, si.pss.salt_length
        )
    return SignatureAlgorithm(si.signature_algorithm, si.signature_hash)


# --- CRLs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RevocationList:
    issuer: bytes  # name key
    authority_key_id: bytes | None
    revoked: dict[int, datetime]
    this_update: datetime
    next_update: datetime | None
    der: bytes = field(repr=False)
    signature_valid: bool | None = None  # None until an issuer in the store checked it
    source: str = ""


def parse_crl(
    der: bytes, source: str = ""
) -> tuple[RevocationList, bytes, bytes, SignatureAlgorithm]:
    try:
        c = crl.CertificateList.load(der, strict=True)
        tbs = c["tbs_cert_list"]
        revoked: dict[int, datetime] = {}
        entries = tbs["revoked_certificates"]
        if not isinstance(entries, core.Void):
            for entry in entries:
                revoked[int(entry["user_certificate"].native)] = entry["revocation_date"].native
        nu = tbs["next_update"]
        rl = RevocationList(
            issuer=_name_key(tbs["issuer"].dump()),
            authority_key_id=c.authority_key_identifier,
            revoked=revoked,
            this_update=tbs["this_update"].native,
            next_update=None if isinstance(nu, core.Void) else nu.native,
            der=der,
            source=source,
        )
        return (
            rl,
            tbs.dump(),
            bytes(c["signature"].native),
            signature_algorithm(c["signature_algorithm"]),
        )
    except LdsError:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise LdsError(f"CRL {source}: {exc}") from exc


# --- the store -----------------------------------------------------------------------------


@dataclass
class TrustStore:
    """CSCA certificates (anchors) indexed by subject and key id, plus CRLs by issuer."""

    anchors: list[Certificate] = field(default_factory=list)
    crls: list[RevocationList] = field(default_factory=list)
    master_lists: list[MasterListInfo] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    _by_subject: dict[bytes, list[Certificate]] = field(default_factory=dict, repr=False)
    _by_key_id: dict[bytes, list[Certificate]] = field(default_factory=dict, repr=False)
    _seen: set[bytes] = field(default_factory=set, repr=False)
    _anchored: dict[int, bool] = field(default_factory=dict, repr=False)
    _pending_crls: list[tuple[RevocationList, bytes, bytes, SignatureAlgorithm]] = field(
        default_factory=list, repr=False
    )

    def __len__(self) -> int:
        return len(self.anchors)

    # adding ------------------------------------------------------------------------------

    def add_certificate(self, cert: Certificate | bytes, source: str = "") -> Certificate | None:
        """Add one CSCA (or link) certificate; duplicates are ignored."""
        c = cert if isinstance(cert, Certificate) else parse_certificate(cert, source)
        digest = hashlib.sha256(c.der).digest()
        if digest in self._seen:
            return None
        self._seen.add(digest)
        self._anchored = {
            k: v for k, v in self._anchored.items() if v
        }  # new certs may anchor others
        self.anchors.append(c)
        self._by_subject.setdefault(_name_key(c.subject), []).append(c)
        if c.subject_key_id:
            self._by_key_id.setdefault(c.subject_key_id, []).append(c)
        return c

    def add_master_list(
        self,
        data: bytes,
        *,
        roots: Sequence[Certificate] = (),
        source: str = "",
        require_signature: bool = True,
    ) -> MasterListInfo:
        """Take the CSCAs of a CMS master list whose own signature verifies.

        With ``roots`` the list signer must also be issued by one of them; without, the
        list's integrity is checked but its origin is whatever the caller trusts the file for.
        """
        signed = parse_signed_data(data, what=f"master list {source}")
        if signed.content_type != OID_CSCA_MASTER_LIST:
            raise LdsError(f"{source}: not a CSCA master list ({signed.content_type})")
        signer_der = signed.signer_certificate()
        signer = parse_certificate(signer_der, source) if signer_der else None
        sig_ok = signer is not None and verify_signed_content(signed, signer)
        chain_ok: bool | None = None
        if roots and signer is not None:
            chain_ok = any(
                _name_key(signer.issuer) == _name_key(r.subject) and signer.signed_by(r)
                for r in roots
            )
        if require_signature and (not sig_ok or chain_ok is False):
            raise LdsError(
                f"{source}: master list signature {'invalid' if not sig_ok else 'valid'}, "
                f"signer {'not issued by the given root' if chain_ok is False else 'ok'}"
            )
        try:
            ml = _CscaMasterList.load(signed.content, strict=True)
            entries = [c.dump() for c in ml["cert_list"]]
        except (ValueError, TypeError) as exc:
            raise LdsError(f"{source}: malformed CscaMasterList: {exc}") from exc
        taken = skipped = 0
        for der in entries:
            try:
                if self.add_certificate(parse_certificate(der, source)) is not None:
                    taken += 1
            except LdsError as exc:
                skipped += 1
                self.skipped.append(f"{source}: {exc}")
        info = MasterListInfo(
            source, taken, skipped, sig_ok, signer.subject_text if signer else None, chain_ok
        )
        self.master_lists.append(info)
        self._check_pending_crls()
        return info

    def add_crl(self, data: bytes, source: str = "") -> None:
        """A CRL counts once a CSCA in the store verifies its signature (checked as anchors arrive)."""
        self._pending_crls.append(parse_crl(data, source))
        self._check_pending_crls()

    def _check_pending_crls(self) -> None:
        still: list[tuple[RevocationList, bytes, bytes, SignatureAlgorithm]] = []
        for rl, tbs, sig, alg in self._pending_crls:
            issuers = self._by_subject.get(rl.issuer, [])
            if rl.authority_key_id:
                issuers = [
                    i for i in issuers if i.subject_key_id in (None, rl.authority_key_id)
                ] or issuers
            if any(verify_signature(i.key, alg, tbs, sig) for i in issuers):
                self.crls.append(
                    RevocationList(
                        rl.issuer,
                        rl.authority_key_id,
                        rl.revoked,
                        rl.this_update,
                        rl.next_update,
                        rl.der,
                        True,
                        rl.source,
                    )
                )
            else:
                still.append((rl, tbs, sig, alg))
        self._pending_crls = still

    @property
    def unverified_crls(self) -> list[str]:
        """CRLs not (yet) verified by a CSCA in the store: they are not applied."""
        return [rl.source for rl, *_ in self._pending_crls]

    # queries -----------------------------------------------------------------------------

    def issuers_for(self, cert: Certificate) -> list[Certificate]:
        """Candidate CSCAs: by authority key id first, else by issuer name."""
        by_name = self._by_subject.get(_name_key(cert.issuer), [])
        if cert.authority_key_id and cert.authority_key_id in self._by_key_id:
            keyed = self._by_key_id[cert.authority_key_id]
            return keyed + [c for c in by_name if c not in keyed]
        return list(by_name)

    def find_issuer(self, cert: Certificate) -> Certificate | None:
        """The anchored CSCA whose key verifies ``cert``'s signature, if the store has it."""
        for candidate in self.issuers_for(cert):
            if cert.signed_by(candidate) and self.anchored(candidate):
                return candidate
        return None

    def anchored(self, cert: Certificate, depth: int = 4) -> bool:
        """A self-signed CSCA, or a link certificate issued by an anchored CSCA in the store.

        A link certificate carries a CSCA's new key signed with its old one; it is only as
        trustworthy as the old key, so it counts once that chain reaches a self-signed root.
        """
        key = id(cert)
        if key in self._anchored:
            return self._anchored[key]
        if cert.signed_by(cert):
            ok = True
        elif depth == 0:
            ok = False
        else:
            ok = any(
                c is not cert and cert.signed_by(c) and self.anchored(c, depth - 1)
                for c in self.issuers_for(cert)
            )
        self._anchored[key] = ok
        return ok

    def revoked(self, cert: Certificate) -> datetime | None:
        """Revocation date of ``cert`` from a verified CRL of its issuer, else None."""
        key = _name_key(cert.issuer)
        for rl in self.crls:
            if rl.issuer == key and cert.serial in rl.revoked:
                return rl.revoked[cert.serial]
        return None

    def has_crl_for(self, cert: Certificate) -> bool:
        return any(rl.issuer == _name_key(cert.issuer) for rl in self.crls)

    def countries(self) -> set[str]:
        return {c.country for c in self.anchors if c.country}

    def summary(self) -> dict[str, object]:
        return {
            "csca_certificates": len(self.anchors),
            "countries": len(self.countries()),
            "master_lists": [m.to_dict() for m in self.master_lists],
            "crls": len(self.crls),
            "unverified_crls": self.unverified_crls,
            "skipped": len(self.skipped),
        }


# --- loading -------------------------------------------------------------------------------


def read_certificates(path: Path) -> list[bytes]:
    """DER certificates from a .cer/.der/.crt file (DER or PEM, several PEM blocks allowed)."""
    data = path.read_bytes()
    if pem.detect(data):
        return [der for kind, _, der in pem.unarmor(data, multiple=True) if kind == "CERTIFICATE"]
    return [data]


def _files(paths: Iterable[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(q for q in p.rglob("*") if q.is_file()))
        elif p.is_file():
            out.append(p)
        else:
            raise FileNotFoundError(p)
    return out


def build_trust_store(
    paths: Sequence[Path | str], *, roots: Sequence[Path | str] = (), require_signature: bool = True
) -> TrustStore:
    """A store from master lists, certificate files, CRLs and directories of them.

    ``roots``: master-list signer roots (e.g. DE_ROOT_CA_CSCA07.cer, NL_ROOT_CA.cer). A
    master list must be signed by a signer issued by one of them when any are given.
    Certificate files are taken as they are: putting a file in the trust list is the
    decision to trust it. Master lists load first so that CRLs can be verified.
    """
    store = TrustStore()
    root_certs = [
        parse_certificate(der, str(r)) for r in roots for der in read_certificates(Path(r))
    ]
    files = _files(Path(p) for p in paths)
    order = {
        **dict.fromkeys(MASTER_LIST_SUFFIXES, 0),
        **dict.fromkeys(CERT_SUFFIXES, 1),
        **dict.fromkeys(CRL_SUFFIXES, 2),
    }
    for f in sorted(files, key=lambda q: order.get(q.suffix.lower(), 3)):
        suffix = f.suffix.lower()
        if suffix in MASTER_LIST_SUFFIXES:
            store.add_master_list(
                f.read_bytes(), roots=root_certs, source=f.name, require_signature=require_signature
            )
        elif suffix in CERT_SUFFIXES:
            for der in read_certificates(f):
                try:
                    store.add_certificate(der, f.name)
                except LdsError as exc:
                    store.skipped.append(str(exc))
        elif suffix in CRL_SUFFIXES:
            store.add_crl(f.read_bytes(), f.name)
    return store


def _fingerprint(paths: Sequence[Path | str]) -> tuple[tuple[str, int, int], ...]:
    out = []
    for f in _files(Path(p) for p in paths):
        st = f.stat()
        out.append((str(f.resolve()), st.st_mtime_ns, st.st_size))
    return tuple(out)


@functools.lru_cache(maxsize=8)
def _cached(
    fingerprint: tuple[tuple[str, int, int], ...], roots: tuple[str, ...], require_signature: bool
) -> TrustStore:
    return build_trust_store(
        [f for f, _, _ in fingerprint], roots=roots, require_signature=require_signature
    )


def load_trust_store(
    paths: Sequence[Path | str], *, roots: Sequence[Path | str] = (), require_signature: bool = True
) -> TrustStore:
    """:func:`build_trust_store`, cached per set of files (by path, mtime and size)."""
    return _cached(_fingerprint(paths), tuple(str(r) for r in roots), require_signature)
