"""LDS parsing on real chip files (specimens, spec vectors, gmrtd biometric templates).

Expected values come from outside our code: the ICAO/dmrtd vectors, the shared README and
MRZ ground truth, the image files extracted by the data's source projects, hashlib over
the raw DG files, and asn1crypto's own CMS parser.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

import pytest
from asn1crypto import cms, core

from proofing.nfc.lds import (
    LdsError,
    parse_card_access,
    parse_card_security,
    parse_com,
    parse_dg1,
    parse_dg2,
    parse_dg14,
    parse_dg15,
    parse_security_infos,
    parse_sod,
)
from proofing.nfc.lds.dg2 import parse_iso19794, parse_iso39794
from proofing.nfc.lds.security_infos import ID_CA_DH, ID_CA_ECDH, ID_PK_DH, ID_PK_ECDH

pytestmark = pytest.mark.shared

SPECIMENS = {
    "de_bsi2008_erika_mustermann": ("EF_SOD.bin", "Datagroup{}.bin", "EF_COM.bin"),
    "de_bsi_tr03105_erika_mustermann": ("EF_SOD.bin", "Datagroup{}.bin", "EF_COM.bin"),
    "nl_specimen_2006": ("ef011D.bin", "ef01{:02X}.bin", "ef011E.bin"),
}


def _spec(shared: Path, name: str) -> Path:
    return shared / "emrtd" / "specimens" / name


def _dg(shared: Path, name: str, n: int) -> bytes | None:
    p = _spec(shared, name) / SPECIMENS[name][1].format(n)
    return p.read_bytes() if p.is_file() else None


# --- EF.COM / DG1 ---------------------------------------------------------------------------


def test_ef_com_vectors(icao_vectors: dict) -> None:
    v = icao_vectors["lds_ef_vectors"]
    # ICAO 9303 p10 A.1: tag list 61 75 76 6C = DG1, DG2, DG4, DG12.
    com = parse_com(bytes.fromhex(v["ef_com_a1_case1"]))
    assert (com.lds_version_text, com.unicode_version, com.data_groups) == (
        "1.7",
        "040000",
        [1, 2, 4, 12],
    )
    assert parse_com(bytes.fromhex(v["ef_com_a1_case2"])).lds_version == "1599"


def test_dg1_vectors_match_mrz_text_vectors(icao_vectors: dict) -> None:
    v = icao_vectors["lds_ef_vectors"]
    td3 = next(
        m for m in icao_vectors["mrz_text_vectors"]["mrz"] if m["spec"] == "ICAO 9303 p4 Appendix A"
    )
    dg1 = parse_dg1(bytes.fromhex(v["dg1_td3_p4"]))
    assert dg1.mrz_text == td3["text"]
    assert dg1.mrz.valid and dg1.mrz.fields is not None
    assert (dg1.mrz.fields.document_number, dg1.mrz.fields.birth_date_raw, dg1.mrz.fields.sex) == (
        td3["doc_no"],
        td3["dob"],
        td3["sex"],
    )
    td1 = parse_dg1(bytes.fromhex(v["dg1_td1_a21_modified"]))
    assert td1.mrz.document_type == "TD1" and td1.mrz.valid  # dmrtd fixed the composite digit


def test_specimen_dg1(shared_data: Path) -> None:
    # README: both German sets are the Erika Mustermann specimen.
    for name in ("de_bsi2008_erika_mustermann", "de_bsi_tr03105_erika_mustermann"):
        data = _dg(shared_data, name, 1)
        assert data is not None
        mrz = parse_dg1(data).mrz
        assert mrz.valid and mrz.fields is not None
        assert (
            mrz.fields.issuing_state,
            mrz.fields.primary_identifier,
            mrz.fields.secondary_identifier,
        ) == ("D", "MUSTERMANN", "ERIKA")
    # MRZ ground truth: the same NL identity as the 98_pass-nld.jpg data page (another document).
    truth = next(
        e
        for e in json.loads((shared_data / "mrz" / "ground_truth.json").read_text())
        if e["file"].endswith("98_pass-nld.jpg")
    )
    nl = parse_dg1(_dg(shared_data, "nl_specimen_2006", 1) or b"")
    assert nl.mrz.valid
    assert nl.lines[0] == truth["lines"][0]
    assert nl.lines[1][10:20] == truth["lines"][1][10:20]  # nationality, birth date + check, sex


def test_specimen_com_lists_dgs(shared_data: Path) -> None:
    for name, (_, _, com_name) in SPECIMENS.items():
        com = parse_com((_spec(shared_data, name) / com_name).read_bytes())
        assert com.lds_version_text == "1.7"
        assert 1 in com.data_groups


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x61",
        b"\x61\x05\x5f\x1f\x02AB",
        b"\x62\x03\x5f\x1f\x00",
        bytes.fromhex("615B5F1F58") + b"P<UTO",
    ],
)
def test_dg1_malformed(data: bytes) -> None:
    with pytest.raises(LdsError):
        parse_dg1(data)


def test_truncated_com_is_an_error(icao_vectors: dict) -> None:
    raw = bytes.fromhex(icao_vectors["lds_ef_vectors"]["ef_com_a1_case1"])
    for cut in (1, 5, len(raw) - 1):
        with pytest.raises(LdsError):
            parse_com(raw[:cut])


# --- DG2 ------------------------------------------------------------------------------------


def test_iso19794_template(shared_data: Path) -> None:
    bt = shared_data / "emrtd" / "biometric_templates"
    faces = parse_iso19794((bt / "ISO19794_Test1_Data.bin").read_bytes())
    assert len(faces) == 1
    assert faces[0].data == (bt / "ISO19794_Test1_Face.jpg").read_bytes()
    assert faces[0].image_format == "jpeg" and faces[0].decode().shape[2] == 3
    with pytest.raises(LdsError):
        parse_iso19794((bt / "ISO19794_Test2_Data_InvalidImage.bin").read_bytes())


@pytest.mark.parametrize(
    ("template", "face"),
    [
        ("ICAO_39794_5_AP_AllFields.dat", "ICAO_39794_5_AP_Face.jpg"),
        ("ICAO_39794_5_AP_MandFields.dat", "ICAO_39794_5_AP_Face.jpg"),
        ("ICAO_39794_5_AP_DG2_AllFields.dat", "ICAO_39794_5_AP_DG2_Face.jpg"),
        ("ICAO_39794_5_AP_DG2_MandFields.dat", "ICAO_39794_5_AP_DG2_Face.jpg"),
    ],
)
def test_iso39794_templates(shared_data: Path, template: str, face: str) -> None:
    bt = shared_data / "emrtd" / "biometric_templates"
    raw = (bt / template).read_bytes()
    faces = parse_dg2(raw).faces if "_DG2_" in template else parse_iso39794(raw)
    assert len(faces) == 1
    assert faces[0].encoding == "iso39794-5"
    assert faces[0].data == (bt / face).read_bytes()
    img = faces[0].decode()
    assert img.ndim == 3 and min(img.shape[:2]) > 100


def test_iso39794_invalid_image(shared_data: Path) -> None:
    raw = (
        shared_data
        / "emrtd"
        / "biometric_templates"
        / "ICAO_39794_5_AP_MandFields_InvalidImage.dat"
    ).read_bytes()
    with pytest.raises(LdsError, match="image"):
        parse_iso39794(raw)


@pytest.mark.parametrize("name", ["de_bsi2008_erika_mustermann", "nl_specimen_2006"])
def test_specimen_dg2_jpeg2000(shared_data: Path, name: str) -> None:
    dg2 = parse_dg2(_dg(shared_data, name, 2) or b"")
    extracted = (_spec(shared_data, name) / "DG2_face_extracted.jp2").read_bytes()
    assert dg2.faces[0].data == extracted
    assert dg2.faces[0].image_format == "jpeg2000" and dg2.faces[0].width > 100


def test_dg2_truncated(shared_data: Path) -> None:
    raw = _dg(shared_data, "nl_specimen_2006", 2) or b""
    with pytest.raises(LdsError):
        parse_dg2(raw[: len(raw) // 2])


# --- DG14 / CardAccess / CardSecurity / DG15 --------------------------------------------------


def test_dg14_spec_sample_dh(shared_data: Path) -> None:
    infos = parse_dg14(
        (shared_data / "emrtd" / "specimens" / "spec_sample_encoded_dg14.bin").read_bytes()
    )
    [key] = infos.chip_authentication_public_keys
    [ca] = infos.chip_authentication
    assert (
        key.protocol == ID_PK_DH
        and key.public_key.algorithm == "dh"
        and key.public_key.bits == 1024
    )
    assert ca.protocol.startswith(ID_CA_DH) and ca.cipher == "3DES" and ca.version == 1
    assert infos.terminal_authentication
    assert infos.ca_key_for(ca) is key


def test_dg14_bsi2008_explicit_brainpool(shared_data: Path) -> None:
    infos = parse_dg14(_dg(shared_data, "de_bsi2008_erika_mustermann", 14) or b"")
    [key] = infos.chip_authentication_public_keys
    assert key.protocol == ID_PK_ECDH
    # README: explicit 224-bit curve; its parameters are brainpoolP224r1 (RFC 5639).
    assert key.public_key.explicit_params and key.public_key.curve_name == "brainpoolP224r1"
    assert infos.chip_authentication[0].protocol.startswith(ID_CA_ECDH)


def test_security_infos_round_trip(shared_data: Path) -> None:
    for path in (
        shared_data / "emrtd" / "specimens" / "spec_sample_encoded_dg14.bin",
        _spec(shared_data, "de_bsi2008_erika_mustermann") / "Datagroup14.bin",
    ):
        raw = path.read_bytes()
        from proofing.nfc.lds import encode_dg14

        assert encode_dg14(parse_dg14(raw)) == raw.rstrip(b"\x00")


def test_card_security_infos(shared_data: Path) -> None:
    signed = parse_card_security(
        (shared_data / "emrtd" / "sods" / "DE_EF_CardSecurity.bin").read_bytes()
    )
    infos = parse_security_infos(signed.content)
    assert {p.mapping for p in infos.pace} >= {"GM", "CAM"}
    assert all(p.parameter_id == 13 for p in infos.pace)  # brainpoolP256r1
    assert {k.public_key.curve_name for k in infos.chip_authentication_public_keys} == {
        "brainpoolP256r1"
    }
    # EF.CardAccess is the same SET OF without the signature around it.
    assert parse_card_access(infos.to_der()).pace == infos.pace


def test_security_infos_malformed() -> None:
    with pytest.raises(LdsError):
        parse_security_infos(b"\x31\x05\x30\x03\x06\x01")
    with pytest.raises(LdsError):
        parse_dg14(b"\x6e\x02\x31\x00\x00")


@pytest.mark.parametrize(
    ("name", "bits"),
    [
        ("nl_specimen_2006", 1024),
        ("de_bsi_tr03105_erika_mustermann", 1024),
        ("de_bsi2008_erika_mustermann", 1022),
    ],
)
def test_dg15_rsa_keys(shared_data: Path, name: str, bits: int) -> None:
    from asn1crypto import keys

    raw = _dg(shared_data, name, 15) or b""
    key = parse_dg15(raw)
    ref = keys.PublicKeyInfo.load(
        raw[2 + (raw[1] & 0x7F if raw[1] & 0x80 else 0) :]
    )  # independent reader
    assert key.algorithm == "rsa" and key.bits == bits
    assert ref["public_key"].parsed["modulus"].native == key.rsa_n


# --- EF.SOD against asn1crypto's own CMS parser ----------------------------------------------


def _sod_files(shared: Path) -> list[Path]:
    files = sorted((shared / "emrtd" / "sods").glob("*_EF_SOD.bin"))
    files += [_spec(shared, n) / f[0] for n, f in SPECIMENS.items()]
    files.append(shared / "emrtd" / "specimens" / "NZ2013_EF_SOD.BIN")
    return files


def test_sod_matches_asn1crypto(shared_data: Path) -> None:
    for path in _sod_files(shared_data):
        raw = path.read_bytes()
        sod = parse_sod(raw)
        # Independent reading: skip the 77 header by hand, let asn1crypto parse the CMS.
        length_bytes = raw[1] & 0x7F if raw[1] & 0x80 else 0
        ci = cms.ContentInfo.load(raw[2 + length_bytes :])
        sd = ci["content"]
        lso = core.load(sd["encap_content_info"]["content"].native)
        digest_alg = lso[1][0].dotted
        seq = lso[2]
        hashes = {int(seq[i][0].native): bytes(seq[i][1].native) for i in range(len(seq))}
        assert sod.lds.dg_hashes == hashes, path.name
        assert (
            sod.lds.hash_algorithm == sd["digest_algorithms"][0]["algorithm"].native or digest_alg
        )
        assert (
            sod.lds.hash_algorithm
            == {
                "1.3.14.3.2.26": "sha1",
                "2.16.840.1.101.3.4.2.1": "sha256",
                "2.16.840.1.101.3.4.2.2": "sha384",
                "2.16.840.1.101.3.4.2.3": "sha512",
            }[digest_alg]
        )
        signer = sd["signer_infos"][0]
        assert sod.signed.signer.sid_serial == signer["sid"].chosen["serial_number"].native
        cert = sd["certificates"][0].chosen
        assert sod.signed.signer_certificate() == cert.dump()
        assert sod.signed.signer.signature == signer["signature"].native


def test_specimen_dg_hashes_match_hashlib(shared_data: Path) -> None:
    for name, (sod_name, _, _) in SPECIMENS.items():
        sod = parse_sod((_spec(shared_data, name) / sod_name).read_bytes())
        for n, expected in sod.lds.dg_hashes.items():
            data = _dg(shared_data, name, n)
            if data is not None:
                assert hashlib.new(sod.lds.hash_algorithm, data).digest() == expected, (name, n)


def test_sod_truncated_or_wrong(shared_data: Path) -> None:
    raw = (shared_data / "emrtd" / "sods" / "UK_EF_SOD.bin").read_bytes()
    for bad in (raw[:100], raw[: len(raw) - 10], b"\x30" + raw[1:], b""):
        with pytest.raises(LdsError):
            parse_sod(bad)


# --- DG1 against the OCR'd data page ------------------------------------------------------------


def test_compare_chip_and_page_mrz(shared_data: Path) -> None:
    """NL specimen: the chip (2006) and the page in the MRZ set (2001) are one person, two documents."""
    from proofing.mrz.parse import parse_lines
    from proofing.nfc.compare import compare_mrz

    truth = next(
        e
        for e in json.loads((shared_data / "mrz" / "ground_truth.json").read_text())
        if e["file"].endswith("98_pass-nld.jpg")
    )
    chip = parse_dg1(_dg(shared_data, "nl_specimen_2006", 1) or b"").mrz
    page = parse_lines(truth["lines"])
    cmp = compare_mrz(chip, page)
    assert not cmp.match
    assert set(cmp.mismatches) == {"document_number", "expiry_date_raw", "optional_data"}
    same = compare_mrz(
        chip, parse_lines(parse_dg1(_dg(shared_data, "nl_specimen_2006", 1) or b"").lines)
    )
    assert same.match and all(f.match for f in same.fields)


def test_damaged_files_raise_lds_error_only(shared_data: Path) -> None:
    """Truncated or byte-flipped real files either parse or raise LdsError, never anything else."""
    import random

    from proofing.nfc.dump import canonical_name
    from proofing.nfc.lds import parse_dg15

    parsers = {
        "EF.COM": parse_com,
        "DG1": parse_dg1,
        "DG2": parse_dg2,
        "DG14": parse_dg14,
        "DG15": parse_dg15,
        "EF.SOD": parse_sod,
    }
    rng = random.Random(9303)
    for name in SPECIMENS:
        for path in sorted(_spec(shared_data, name).iterdir()):
            kind = canonical_name(path.name)
            if kind not in parsers:
                continue
            data = path.read_bytes()
            variants = [data[: rng.randrange(len(data))] for _ in range(8)]
            for _ in range(12):
                b = bytearray(data)
                b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
                variants.append(bytes(b))
            for v in variants:
                with contextlib.suppress(LdsError):
                    parsers[kind](v)
