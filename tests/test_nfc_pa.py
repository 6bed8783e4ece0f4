"""Passive and Active Authentication on real SODs, master lists and the specimens.

Independent truths: the shared README (which SOD chains to which list, list sizes), the
source project's pa_verification_result.json, the ICAO AA worked example, ``cryptography``
as a second ECDSA implementation, and OpenSSL's own CMS verification where available.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from proofing.nfc.active import (
    encode_representative,
    recover_representative,
    verify_active_authentication,
)
from proofing.nfc.dump import ChipDump
from proofing.nfc.lds import parse_dg15, parse_sod
from proofing.nfc.lds.curves import CURVES, ecdsa_verify
from proofing.nfc.passive import DG_MISMATCH, DG_NOT_IN_SOD, DG_VALID, verify_passive
from proofing.nfc.testpki import make_crl, make_csca, make_document_signer, make_key, make_profile
from proofing.nfc.trust import TrustStore, build_trust_store, parse_certificate
from proofing.nfc.verify import verify_chip

pytestmark = pytest.mark.shared

ML = ("DE_ML_2026-05-28-08-28-45.ml", "NL_ML_2026-07-22.ml")
ROOTS = ("DE_ROOT_CA_CSCA07.cer", "NL_ROOT_CA.cer")


@pytest.fixture(scope="module")
def masterlists(shared_data: Path) -> Path:
    return shared_data / "emrtd" / "masterlists"


@pytest.fixture(scope="module")
def store(masterlists: Path) -> TrustStore:
    return build_trust_store(
        [
            masterlists / ML[0],
            masterlists / ML[1],
            masterlists / "IDN_2010_SERIES_CSCA_CERT",
            masterlists / "COL.crl",
        ],
        roots=[masterlists / r for r in ROOTS],
    )


# --- master lists and CRLs --------------------------------------------------------------------


@pytest.mark.parametrize(("ml", "root", "count"), [(ML[0], ROOTS[0], 588), (ML[1], ROOTS[1], 411)])
def test_master_list_signature_and_size(masterlists: Path, ml: str, root: str, count: int) -> None:
    s = build_trust_store([masterlists / ml], roots=[masterlists / root])
    [info] = s.master_lists
    assert info.signature_valid and info.signer_chain_valid
    assert (
        info.certificates + info.skipped == count
    )  # README: 588 (DE) and 411 (NL) CSCA certificates


def test_master_list_wrong_root_refused(masterlists: Path) -> None:
    from proofing.nfc.lds import LdsError

    with pytest.raises(LdsError, match="root"):
        build_trust_store([masterlists / ML[0]], roots=[masterlists / ROOTS[1]])


def test_master_list_tampered_refused(masterlists: Path, tmp_path: Path) -> None:
    from proofing.nfc.lds import LdsError

    raw = bytearray((masterlists / ML[1]).read_bytes())
    raw[len(raw) // 2] ^= 0x01  # inside the certificate list, so the message digest changes
    bad = tmp_path / "bad.ml"
    bad.write_bytes(bytes(raw))
    with pytest.raises(LdsError):
        build_trust_store([bad])


def test_colombian_crl_verified(store: TrustStore) -> None:
    assert len(store.crls) == 1 and not store.unverified_crls
    assert 0x55780B03 in store.crls[0].revoked  # first entry, as `openssl crl -text` lists it


def test_old_nl_list_signed_under_serial6(masterlists: Path) -> None:
    s = build_trust_store(
        [masterlists / "NL_MASTERLIST_20211207.mls"],
        roots=[masterlists / "CSCA_NL_serial6_2021-2034.cer"],
    )
    assert s.master_lists[0].signature_valid and s.master_lists[0].signer_chain_valid


# --- real SODs --------------------------------------------------------------------------------


@pytest.mark.parametrize("country", ["AT", "DE", "FI", "ID", "NZ", "PH", "SG", "UK"])
def test_real_sod_chains(shared_data: Path, store: TrustStore, country: str) -> None:
    raw = (shared_data / "emrtd" / "sods" / f"{country}_EF_SOD.bin").read_bytes()
    r = verify_passive({"EF.SOD": raw}, store)
    assert r.signature_valid and r.signed_attributes_valid
    assert r.csca_found, r.reasons
    assert r.csca_certificate is not None
    expected_source = "2020-10_CSCA.cer" if country == "ID" else None
    if expected_source:
        assert r.csca_certificate.source == expected_source
    # No DGs: hashes cannot be checked; the chain itself holds at the signing / issue time.
    ds = r.ds_certificate
    assert ds is not None
    r_then = verify_passive({"EF.SOD": raw}, store, at=ds.not_before + dt.timedelta(days=1))
    assert r_then.chain_valid, r_then.reasons
    assert "NO_DATA_GROUPS" in r.reasons and not r.hashes_valid


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl CLI not installed")
def test_sod_signatures_agree_with_openssl(shared_data: Path, tmp_path: Path) -> None:
    for path in sorted((shared_data / "emrtd" / "sods").glob("*_EF_SOD.bin")):
        raw = path.read_bytes()
        n = raw[1] & 0x7F if raw[1] & 0x80 else 0
        inner = tmp_path / "sod.der"
        inner.write_bytes(raw[2 + n :])
        ok = (
            subprocess.run(
                [
                    "openssl",
                    "cms",
                    "-verify",
                    "-noverify",
                    "-inform",
                    "DER",
                    "-in",
                    str(inner),
                    "-binary",
                    "-out",
                    "/dev/null",
                ],
                capture_output=True,
            ).returncode
            == 0
        )
        assert verify_passive({"EF.SOD": raw}, None).signature_valid == ok, path.name


# --- specimens --------------------------------------------------------------------------------


def test_specimen_tr03105_matches_reference(shared_data: Path, store: TrustStore) -> None:
    d = shared_data / "emrtd" / "specimens" / "de_bsi_tr03105_erika_mustermann"
    ref = json.loads((d / "pa_verification_result.json").read_text())
    r = verify_passive(ChipDump.from_dir(d), store)
    assert r.hash_algorithm == ref["lds_hash_alg"]
    assert (
        sorted(parse_sod((d / "EF_SOD.bin").read_bytes()).lds.dg_hashes) == ref["dg_numbers_in_sod"]
    )
    for n, ok in ref["dg_hash_ok"].items():
        assert (r.data_groups[int(n)] == DG_VALID) == ok
    assert r.data_groups[15] == DG_NOT_IN_SOD
    assert r.signed_attributes_valid == ref["signed_attrs_message_digest_ok"]
    assert r.signature_valid == ref["sod_signature_ok"]
    assert r.signature_algorithm is not None and r.signature_algorithm.startswith(
        ref["sod_signature_alg"]
    )
    assert ref["dsc_chains_to_anchor"] is False and r.chain_valid is False
    ds = cx509.load_der_x509_certificate(r.ds_certificate.der) if r.ds_certificate else None
    assert ds is not None
    assert (
        ds.subject.rfc4514_string() == ref["dsc_subject"]
        and ds.issuer.rfc4514_string() == ref["dsc_issuer"]
    )
    assert [
        ds.not_valid_before_utc.date().isoformat(),
        ds.not_valid_after_utc.date().isoformat(),
    ] == ref["dsc_validity"]
    assert "CSCA_NOT_IN_TRUST_STORE" in r.reasons and "SOD_SIGNATURE_INVALID" not in r.reasons


@pytest.mark.parametrize("name", ["de_bsi2008_erika_mustermann", "nl_specimen_2006"])
def test_specimen_unknown_csca_is_not_forged(
    shared_data: Path, store: TrustStore, name: str
) -> None:
    r = verify_passive(ChipDump.from_dir(shared_data / "emrtd" / "specimens" / name), store)
    sod_dgs = [n for n, v in r.data_groups.items() if v != DG_NOT_IN_SOD]
    assert all(r.data_groups[n] in (DG_VALID, "not_read") for n in sod_dgs)
    assert r.signature_valid, (
        r.reasons
    )  # README: signature verifies (bsi2008: explicit 224-bit curve)
    assert not r.chain_valid and not r.csca_found
    assert "CSCA_NOT_IN_TRUST_STORE" in r.reasons
    assert not any(x.startswith(("DG_HASH_MISMATCH", "SOD_SIGNATURE_INVALID")) for x in r.reasons)


def test_bsi2008_is_explicit_brainpool224(shared_data: Path) -> None:
    sod = parse_sod(
        (
            shared_data / "emrtd" / "specimens" / "de_bsi2008_erika_mustermann" / "EF_SOD.bin"
        ).read_bytes()
    )
    ds_der = sod.signed.signer_certificate()
    assert ds_der is not None
    key = parse_certificate(ds_der).key
    assert (
        key.explicit_params
        and key.curve_name == "brainpoolP224r1"
        and sod.signed.signer.signature_hash == "sha1"
    )


def test_own_ecdsa_agrees_with_cryptography() -> None:
    key = ec.generate_private_key(ec.BrainpoolP256R1())
    msg = b"passive authentication"
    r, s = decode_dss_signature(key.sign(msg, ec.ECDSA(hashes.SHA256())))
    nums = key.public_key().public_numbers()
    curve = CURVES["brainpoolP256r1"]
    digest = hashlib.sha256(msg).digest()
    assert ecdsa_verify(curve, (nums.x, nums.y), digest, r, s)
    assert not ecdsa_verify(curve, (nums.x, nums.y), digest, r, (s + 1) % curve.n)


# --- forgeries with the test PKI --------------------------------------------------------------


def _store_with(*cscas: bytes, crls: tuple[bytes, ...] = ()) -> TrustStore:
    s = TrustStore()
    for c in cscas:
        s.add_certificate(c, "test")
    for c in crls:
        s.add_crl(c, "test.crl")
    return s


def test_genuine_test_chip_valid() -> None:
    p = make_profile(aa=None, chip_authentication=False)
    r = verify_passive(p.files, _store_with(p.csca_der))
    assert r.valid and not r.reasons


@pytest.mark.parametrize("dg", [1, 2, 14])
def test_flipped_dg_byte(dg: int) -> None:
    p = make_profile(tamper_dg=dg, aa=None)
    r = verify_passive(p.files, _store_with(p.csca_der))
    assert not r.hashes_valid and r.data_groups[dg] == DG_MISMATCH
    assert f"DG_HASH_MISMATCH:DG{dg}" in r.reasons
    assert r.signature_valid and r.chain_valid


@pytest.mark.parametrize("ds_key", ["ec", "rsa"])
def test_damaged_sod_signature(ds_key: str) -> None:
    p = make_profile(damage_signature=True, ds_key=ds_key, aa=None, chip_authentication=False)
    r = verify_passive(p.files, _store_with(p.csca_der))
    assert r.hashes_valid and r.signed_attributes_valid and not r.signature_valid
    assert "SOD_SIGNATURE_INVALID" in r.reasons and not r.valid


def test_expired_document_signer() -> None:
    p = make_profile(expired_ds=True, aa=None, chip_authentication=False)
    r = verify_passive(p.files, _store_with(p.csca_der))
    assert r.hashes_valid and r.signature_valid and r.csca_found
    assert not r.chain_valid and "DS_CERT_EXPIRED" in r.reasons


def test_untrusted_csca() -> None:
    p = make_profile(aa=None, chip_authentication=False)
    other = make_csca(common_name="Utopia Test CSCA")  # same name, other key
    r = verify_passive(p.files, _store_with(other.der))
    assert r.hashes_valid and r.signature_valid and not r.chain_valid
    assert "CSCA_NOT_IN_TRUST_STORE" in r.reasons


def test_forged_ds_certificate() -> None:
    """A DS certificate claiming the trusted CSCA's key id but signed by another key."""
    csca = make_csca()
    forger = make_csca(key=make_key("ec"))
    ds_real = make_document_signer(csca)
    import dataclasses

    # Re-issue the DS under the forger but with the genuine issuer name and key id.
    fake_issuer = dataclasses.replace(forger, certificate=csca.certificate)
    ds_fake = make_document_signer(fake_issuer, key=ds_real.private_key)
    p = make_profile(csca=csca, ds=ds_fake, aa=None, chip_authentication=False)
    r = verify_passive(p.files, _store_with(csca.der))
    assert r.signature_valid and not r.chain_valid and "DS_CERT_SIGNATURE_INVALID" in r.reasons


def test_revoked_document_signer() -> None:
    csca = make_csca()
    ds = make_document_signer(csca)
    p = make_profile(csca=csca, ds=ds, aa=None, chip_authentication=False)
    crl = make_crl(csca, [ds.certificate.serial_number])
    r = verify_passive(p.files, _store_with(csca.der, crls=(crl,)))
    assert r.signature_valid and not r.chain_valid and "DS_CERT_REVOKED" in r.reasons
    # A CRL signed by someone else is not applied.
    r2 = verify_passive(
        p.files,
        _store_with(csca.der, crls=(make_crl(make_csca(), [ds.certificate.serial_number]),)),
    )
    assert r2.chain_valid


def test_rsa_pss_sod() -> None:
    p = make_profile(ds_key="rsa", sod_pss=True, aa=None, chip_authentication=False)
    r = verify_passive(p.files, _store_with(p.csca_der))
    assert r.valid and r.signature_algorithm == "rsassa_pss-sha256"


# --- Active Authentication -------------------------------------------------------------------


def test_aa_worked_example(icao_vectors: dict) -> None:
    v = icao_vectors["active_authentication_worked_example"]
    f = encode_representative(
        bytes.fromhex(v["m1"]), bytes.fromhex(v["rnd_ifd"]), "sha1", len(bytes.fromhex(v["f"]))
    )
    assert f == bytes.fromhex(v["f"])
    rec = recover_representative(bytes.fromhex(v["f"]), bytes.fromhex(v["rnd_ifd"]))
    assert rec.valid and rec.digest == bytes.fromhex(v["h"]) and rec.m1 == bytes.fromhex(v["m1"])
    assert v["trailer"] == "BC" and rec.hash_name == "sha1"
    assert not recover_representative(bytes.fromhex(v["f"]), bytes(8)).valid


@pytest.mark.parametrize(("aa", "aa_hash"), [("rsa", "sha1"), ("rsa", "sha256"), ("ec", "sha256")])
def test_aa_over_our_challenge(aa: str, aa_hash: str) -> None:
    p = make_profile(aa=aa, aa_hash=aa_hash)
    trust = _store_with(p.csca_der)
    nonce = bytes.fromhex("0123456789ABCDEF")
    good = verify_chip(p.dump(nonce), trust, nonce)
    assert (
        good.valid and good.active_authentication is not None and good.active_authentication.valid
    )
    assert good.active_authentication.hash_name == aa_hash
    # A signature over another challenge (a replayed dump) fails.
    replay = verify_chip(p.dump(bytes(8)), trust, nonce)
    assert replay.active_authentication is not None and not replay.active_authentication.valid
    assert not replay.valid
    # No signature although we asked: fails too.
    silent = p.dump()
    assert not verify_chip(silent, trust, nonce).valid


def test_aa_key_from_specimen_rejects_garbage(shared_data: Path) -> None:
    key = parse_dg15(
        (shared_data / "emrtd" / "specimens" / "nl_specimen_2006" / "ef010F.bin").read_bytes()
    )
    assert not verify_active_authentication(key, bytes(8), bytes(128)).valid
    assert not verify_active_authentication(key, bytes(8), b"\x01" * 300).valid


def test_verify_chip_specimen_json(shared_data: Path, store: TrustStore) -> None:
    d = shared_data / "emrtd" / "specimens" / "nl_specimen_2006"
    res = verify_chip(ChipDump.from_dir(d), store, None)
    out = res.to_dict()
    pa = out["passive_authentication"]
    assert isinstance(pa, dict)
    assert (pa["hashes_valid"], pa["signature_valid"], pa["chain_valid"], pa["valid"]) == (
        True,
        True,
        False,
        False,
    )
    assert "CSCA_NOT_IN_TRUST_STORE" in out["reasons"]  # type: ignore[operator]
    assert "active_authentication" not in out  # no challenge asked, none answered
    assert (
        res.dg1 is not None
        and res.dg2 is not None
        and res.dg15 is not None
        and not res.parse_errors
    )
    json.dumps(out, default=str)


@pytest.fixture(scope="module")
def single_list_stores(masterlists: Path) -> dict[str, TrustStore]:
    return {
        ml: build_trust_store([masterlists / ml], roots=[masterlists / root])
        for ml, root in zip(ML, ROOTS, strict=True)
    }


@pytest.mark.parametrize("country", ["AT", "DE", "FI", "NZ", "PH", "SG", "UK"])
def test_real_sod_chains_to_a_single_list(
    shared_data: Path, single_list_stores: dict[str, TrustStore], country: str
) -> None:
    """README: each (non-ID) SOD chains to a CSCA in the German or the Dutch master list."""
    raw = (shared_data / "emrtd" / "sods" / f"{country}_EF_SOD.bin").read_bytes()
    found = [
        ml for ml, s in single_list_stores.items() if verify_passive({"EF.SOD": raw}, s).csca_found
    ]
    assert found


def test_nz2013_csca_not_in_lists(shared_data: Path, store: TrustStore) -> None:
    """README: the 2013 NZ SOD's CSCA is in none of the lists: unknown, not forged."""
    r = verify_passive(
        {"EF.SOD": (shared_data / "emrtd" / "specimens" / "NZ2013_EF_SOD.BIN").read_bytes()}, store
    )
    assert r.signature_valid and not r.csca_found and "CSCA_NOT_IN_TRUST_STORE" in r.reasons


def test_indonesian_link_certificates(masterlists: Path, shared_data: Path) -> None:
    """The ID SOD is signed under the 2020 key; 2010 root + links 2016 and 2020 reach it, links alone do not."""
    idn = masterlists / "IDN_2010_SERIES_CSCA_CERT"
    raw = (shared_data / "emrtd" / "sods" / "ID_EF_SOD.bin").read_bytes()
    linked = build_trust_store(
        [idn / "2010-12_CSCA.cer", idn / "2016-01_CSCA_LINK.cer", idn / "2020-10_CSCA_LINK.cer"]
    )
    r = verify_passive({"EF.SOD": raw}, linked)
    assert r.csca_found and r.csca_certificate is not None
    assert r.csca_certificate.source == "2020-10_CSCA_LINK.cer"
    dangling = build_trust_store([idn / "2020-10_CSCA_LINK.cer"])
    r2 = verify_passive({"EF.SOD": raw}, dangling)
    assert not r2.csca_found and "CSCA_LINK_NOT_ANCHORED" in r2.reasons


@pytest.mark.parametrize("country", ["DE", "FI"])
def test_card_security(
    shared_data: Path, single_list_stores: dict[str, TrustStore], country: str
) -> None:
    from proofing.nfc.passive import verify_card_security

    raw = (shared_data / "emrtd" / "sods" / f"{country}_EF_CardSecurity.bin").read_bytes()
    r = verify_card_security(raw, single_list_stores[ML[0]])
    assert r.signature_valid and r.chain_valid and r.valid, r.reasons
    # A changed SecurityInfo (one byte near the start of the signed content) breaks the signature.
    signed_start = raw.find(bytes.fromhex("060804007F0007030201"))  # id-SecurityObject
    assert signed_start > 0
    bad = bytearray(raw)
    bad[signed_start + 40] ^= 0x01
    r2 = verify_card_security(bytes(bad), single_list_stores[ML[0]])
    assert not r2.valid and not r2.signature_valid
