"""The test PKI's chip profiles: complete, parseable, and valid under PA with their CSCA."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from typer.testing import CliRunner

from proofing.cli import app
from proofing.mrz.parse import parse_lines
from proofing.nfc.dump import ChipDump
from proofing.nfc.lds import (
    parse_card_access,
    parse_com,
    parse_dg1,
    parse_dg2,
    parse_dg11,
    parse_dg12,
    parse_dg14,
    parse_dg15,
    parse_sod,
)
from proofing.nfc.lds.security_infos import ID_PACE
from proofing.nfc.passive import verify_passive
from proofing.nfc.testpki import ChipProfile, make_profile, td3_mrz
from proofing.nfc.trust import TrustStore

ICAO_TD3 = [
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
]


def _trust(p: ChipProfile) -> TrustStore:
    s = TrustStore()
    s.add_certificate(p.csca_der, "csca")
    return s


def test_default_profile_is_complete_and_valid() -> None:
    p = make_profile()
    assert set(p.files) == {
        "EF.COM",
        "EF.SOD",
        "EF.CardAccess",
        "DG1",
        "DG2",
        "DG11",
        "DG12",
        "DG14",
        "DG15",
    }
    com = parse_com(p.files["EF.COM"])
    assert com.data_groups == sorted(parse_sod(p.files["EF.SOD"]).lds.dg_hashes)
    r = verify_passive(p.files, _trust(p))
    assert r.valid, r.reasons
    # PACE defaults: ECDH-GM, AES-128, brainpoolP256r1 (standardized parameter 13).
    [pace] = parse_card_access(p.files["EF.CardAccess"]).pace
    assert (pace.key_agreement, pace.mapping, pace.cipher, pace.key_length, pace.parameter_id) == (
        "ECDH",
        "GM",
        "AES",
        128,
        13,
    )
    assert pace.protocol == ID_PACE + ".2.2"


def test_mrz_helper_produces_valid_check_digits() -> None:
    lines = td3_mrz("O'NEIL", "JANE", "X1234567", birth="900101", sex="F", expiry="300101")
    assert parse_lines(lines).valid  # the OCR path's own parser agrees


def test_dg1_from_given_mrz_lines() -> None:
    p = make_profile(ICAO_TD3, aa=None, chip_authentication=False)
    dg1 = parse_dg1(p.files["DG1"])
    assert dg1.lines == ICAO_TD3 and dg1.mrz.valid


def test_face_decodes_and_other_groups_parse() -> None:
    p = make_profile()
    face = parse_dg2(p.files["DG2"]).faces[0]
    assert face.image_format == "jpeg" and face.decode().shape[0] > 100
    assert parse_dg11(p.files["DG11"]).fields["place_of_birth"] == "UTOPIA CITY"
    assert "issuing_authority" in parse_dg12(p.files["DG12"]).fields


def test_chip_authentication_key_matches_private_key() -> None:
    p = make_profile(aa="ec")
    infos = parse_dg14(p.files["DG14"])
    [key] = infos.chip_authentication_public_keys
    assert p.ca_private_key is not None
    pub = p.ca_private_key.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    assert key.public_key.point == pub and key.public_key.curve_name == "brainpoolP256r1"
    assert (
        infos.active_authentication is not None
        and infos.active_authentication.hash_name == "sha256"
    )
    aa_key = parse_dg15(p.files["DG15"])
    assert aa_key.algorithm == "ec" and isinstance(p.aa_private_key, ec.EllipticCurvePrivateKey)


def test_configurable_pace() -> None:
    p = make_profile(pace_protocol=ID_PACE + ".4.4", pace_parameter_id=16, aa=None)
    [pace] = parse_card_access(p.files["EF.CardAccess"]).pace
    assert (pace.mapping, pace.key_length, pace.parameter_id) == ("IM", 256, 16)


def test_save_and_load(tmp_path: Path) -> None:
    p = make_profile()
    p.save(tmp_path / "chip")
    q = ChipProfile.load(tmp_path / "chip")
    assert q.files == p.files and q.mrz_lines == p.mrz_lines and q.can == p.can
    assert ChipDump.from_dir(tmp_path / "chip").files == p.files
    nonce = b"\x01" * 8
    from proofing.nfc.active import verify_active_authentication

    assert verify_active_authentication(parse_dg15(q.files["DG15"]), nonce, q.sign_aa(nonce)).valid
    assert verify_passive(q.files, _trust(q)).valid


def test_cli_verify_chip(tmp_path: Path) -> None:
    p = make_profile()
    chip = tmp_path / "chip"
    p.save(chip)
    (tmp_path / "csca.cer").write_bytes(p.csca_der)
    nonce = "00112233AABBCCDD"
    (chip / "aa_signature.bin").write_bytes(p.sign_aa(bytes.fromhex(nonce)))
    runner = CliRunner()
    ok = runner.invoke(
        app,
        [
            "verify-chip",
            str(chip),
            "--trust",
            str(tmp_path / "csca.cer"),
            "--challenge",
            nonce,
            "--json",
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert '"hashes_valid": true' in ok.output and '"active_authentication"' in ok.output
    replay = runner.invoke(
        app,
        ["verify-chip", str(chip), "--trust", str(tmp_path / "csca.cer"), "--challenge", "00" * 8],
    )
    assert replay.exit_code == 1
    untrusted = runner.invoke(app, ["verify-chip", str(chip)])
    assert untrusted.exit_code == 1 and "NO_TRUST_STORE" in untrusted.output


@pytest.mark.parametrize("kind", ["tamper", "signature", "expired"])
def test_forged_profiles_fail(kind: str) -> None:
    opts = {
        "tamper": {"tamper_dg": 2},
        "signature": {"damage_signature": True},
        "expired": {"expired_ds": True},
    }[kind]
    p = make_profile(aa=None, chip_authentication=False, **opts)  # type: ignore[arg-type]
    assert not verify_passive(p.files, _trust(p)).valid


def test_explicit_ca_parameters() -> None:
    p = make_profile(aa=None, ca_explicit_params=True)
    [key] = parse_dg14(p.files["DG14"]).chip_authentication_public_keys
    assert key.public_key.explicit_params and key.public_key.curve_name == "brainpoolP256r1"
    assert verify_passive(p.files, _trust(p)).valid


def test_card_security_profile() -> None:
    from proofing.nfc.lds import parse_card_security, parse_security_infos
    from proofing.nfc.verify import verify_chip

    p = make_profile(card_security=True, aa=None)
    infos = parse_security_infos(parse_card_security(p.files["EF.CardSecurity"]).content)
    assert infos.pace and infos.chip_authentication_public_keys
    res = verify_chip(ChipDump(files=dict(p.files)), _trust(p), None)
    assert res.card_security is not None and res.card_security.valid and res.valid
