"""End to end through real PC/SC: pyscard -> pcscd -> vpcd (vsmartcard) -> our virtual chip.

Needs the Debian packages ``pcscd`` and ``vsmartcard-vpcd`` and the Python package
``pyscard``; skips with the reason otherwise. A pcscd that is already running is reused
(when it has the vpcd reader); one started here is stopped here, by its PID.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from proofing.nfc.bac import CanKey, MrzKey
from proofing.nfc.errors import CardRemoved, ChipError, SecureMessagingError, TransportError
from proofing.nfc.reader import read_chip
from proofing.nfc.transport import PcscTransport
from proofing.nfc.vchip import harness

READER = harness.READER


@pytest.fixture(scope="module")
def pcscd() -> Iterator[None]:
    reason = harness.missing_requirements()
    if reason:
        pytest.skip(reason)
    try:
        with harness.pcscd_running():
            yield
    except RuntimeError as exc:
        pytest.skip(str(exc))


virtual_chip = harness.chip_process


@pytest.fixture(scope="module")
def passport(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    """A signed test passport from the test PKI: DG1, DG2, DG11, DG12, DG14, DG15, EF.SOD."""
    from proofing.nfc import testpki

    tp = testpki.make_profile()
    d = tmp_path_factory.mktemp("passport")
    tp.save(d)
    (d / "csca.der").write_bytes(tp.csca_der)
    return d, tp


@pytest.fixture(scope="module")
def bac_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from proofing.nfc.vchip.profile import make_profile, save_profile

    d = tmp_path_factory.mktemp("bac")
    save_profile(make_profile(pace_oid=None), d)
    return d


def _mrz_key(tp: object) -> MrzKey:
    return MrzKey.from_mrz_lines(tp.mrz_lines)  # type: ignore[attr-defined]


def _verify(d: Path, dump: object, challenge: bytes) -> object:
    from proofing.nfc.trust import build_trust_store
    from proofing.nfc.verify import verify_chip

    return verify_chip(dump, build_trust_store([d / "csca.der"]), challenge)  # type: ignore[arg-type]


def test_pace_can_read_with_aa_ca_and_pa(pcscd: None, passport: tuple[Path, object]) -> None:
    d, tp = passport
    challenge = os.urandom(8)
    with virtual_chip(d), PcscTransport(READER) as t:
        dump = read_chip(t, CanKey(tp.can), challenge=challenge)  # type: ignore[attr-defined]
    assert dump.access_control == "PACE"
    assert dump.files == tp.files  # type: ignore[attr-defined]
    assert dump.chip_authentication and dump.chip_authentication["performed"]
    result = _verify(d, dump, challenge)
    assert result.valid, result.to_dict()  # type: ignore[attr-defined]
    assert result.active_authentication.valid  # type: ignore[attr-defined]


def test_pace_mrz_read_and_replayed_aa_fails(pcscd: None, passport: tuple[Path, object]) -> None:
    d, tp = passport
    first, second = os.urandom(8), os.urandom(8)
    with virtual_chip(d), PcscTransport(READER) as t:
        dump = read_chip(t, _mrz_key(tp), challenge=first)
    assert dump.access_control == "PACE" and _verify(d, dump, first).valid  # type: ignore[attr-defined]
    # A replayed dump: the old signature offered against the server's new nonce.
    dump.aa_challenge = second
    replay = _verify(d, dump, second)
    assert not replay.active_authentication.valid and not replay.valid  # type: ignore[attr-defined]
    # ... or the old challenge kept, which the server did not issue this time.
    dump.aa_challenge = first
    assert not _verify(d, dump, second).valid  # type: ignore[attr-defined]


def test_read_chip_cli(pcscd: None, passport: tuple[Path, object], tmp_path: Path) -> None:
    """``proofing read-chip --mrz ... --challenge ... --out DIR --json`` writes what the
    server verifies: the raw files and the AA signature over *its* challenge."""
    import json

    from typer.testing import CliRunner

    from proofing.cli import app
    from proofing.nfc.dump import ChipDump

    d, tp = passport
    out = tmp_path / "chip"
    lines = tp.mrz_lines  # type: ignore[attr-defined]
    with virtual_chip(d):
        res = CliRunner().invoke(app, ["read-chip", "--mrz", lines[0], "--mrz", lines[1], "--reader", "Virtual PCD",
                                       "--challenge", "0011223344556677", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["access_control"] == "PACE" and report["chip_authentication"]["success"]
    dump = ChipDump.from_dir(out)
    assert dump.files == tp.files  # type: ignore[attr-defined]
    assert _verify(d, dump, bytes.fromhex("0011223344556677")).valid  # type: ignore[attr-defined]


def test_read_chip_cli_without_card(pcscd: None, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from proofing.cli import app

    res = CliRunner().invoke(app, ["read-chip", "--can", "123456", "--reader", READER, "--out", str(tmp_path / "x")])
    assert res.exit_code == 1 and "no card" in res.output
    assert not (tmp_path / "x").exists()


def test_bac_read(pcscd: None, bac_only: Path) -> None:
    from proofing.nfc.vchip.profile import load_profile

    prof = load_profile(bac_only)
    with virtual_chip(bac_only, "--no-extended"), PcscTransport(READER) as t:
        assert t.supports_extended is False
        dump = read_chip(t, MrzKey(prof.document_number, prof.birth, prof.expiry), challenge=b"\x01" * 8)
    assert dump.access_control == "BAC"
    assert dump.files == prof.files
    assert dump.aa_signature and dump.chip_authentication and dump.chip_authentication["performed"]


def test_wrong_key_is_refused(pcscd: None, passport: tuple[Path, object]) -> None:
    d, _ = passport
    from proofing.nfc.errors import AuthenticationError

    with virtual_chip(d), PcscTransport(READER) as t, pytest.raises(AuthenticationError):
        read_chip(t, CanKey("000000"))


def test_specimen_served_over_bac(pcscd: None, shared_data: Path) -> None:
    """A real specimen's files (no keys): BAC with the MRZ from its DG1, files byte for byte."""
    from proofing.nfc.dump import ChipDump
    from proofing.nfc.vchip.profile import load_profile

    spec = shared_data / "emrtd" / "specimens" / "de_bsi2008_erika_mustermann"
    prof = load_profile(spec)
    with virtual_chip(spec), PcscTransport(READER) as t:
        dump = read_chip(t, MrzKey(prof.document_number, prof.birth, prof.expiry), chip_auth=False,
                         active_auth=False, files=("EF.COM", "EF.SOD", "DG1", "DG2", "DG14", "DG15"))
    want = ChipDump.from_dir(spec).files
    assert dump.access_control == "BAC"
    assert dump.files == {k: want[k] for k in ("EF.COM", "EF.SOD", "DG1", "DG2", "DG14", "DG15")}


@pytest.mark.parametrize("fault,error", [
    (("--bad-mac-at-read", "5"), SecureMessagingError),
    (("--truncate", "DG2=5000"), ChipError),
])
def test_faults_give_clear_errors(pcscd: None, passport: tuple[Path, object], fault: tuple[str, str],
                                  error: type[Exception]) -> None:
    d, tp = passport
    with virtual_chip(d, *fault), PcscTransport(READER) as t, pytest.raises(error):
        read_chip(t, CanKey(tp.can))  # type: ignore[attr-defined]


def test_slow_chip_times_out(pcscd: None, passport: tuple[Path, object]) -> None:
    d, tp = passport
    with virtual_chip(d, "--delay", "1.5"), PcscTransport(READER, timeout=0.5) as t, \
            pytest.raises(TransportError, match="did not answer"):
        read_chip(t, CanKey(tp.can))  # type: ignore[attr-defined]


def test_card_lost_mid_read(pcscd: None, passport: tuple[Path, object]) -> None:
    """The last PC/SC test of the module, on purpose: after a card leaves in the middle of a
    command, pcscd's vpcd driver takes no new card until pcscd restarts (measured here:
    none within 60 s), so every test after this one would wait in vain. The module's
    pcscd is stopped at the end of the module, and the next module starts a fresh one."""
    d, tp = passport
    with virtual_chip(d, "--drop-at-read", "6"), PcscTransport(READER) as t, pytest.raises(CardRemoved):
        read_chip(t, CanKey(tp.can))  # type: ignore[attr-defined]


# -- The same reader against the virtual chip in-process (no PC/SC needed) --------------------

ECDH_GM = "0.4.0.127.0.7.2.2.4.2."
DH_GM = "0.4.0.127.0.7.2.2.4.1."
ECDH_IM = "0.4.0.127.0.7.2.2.4.4."
DH_IM = "0.4.0.127.0.7.2.2.4.3."


def _direct(profile: object, faults: object = None) -> object:
    from proofing.nfc.vchip import DirectTransport, VirtualChip

    return DirectTransport(VirtualChip(profile, faults))  # type: ignore[arg-type]


def _aa_valid(dump: object) -> bool:
    from proofing.nfc.active import verify_active_authentication
    from proofing.nfc.lds.dg15 import parse_dg15
    from proofing.nfc.lds.security_infos import parse_dg14

    files = dump.files  # type: ignore[attr-defined]
    dg14 = parse_dg14(files["DG14"]) if "DG14" in files else None
    return verify_active_authentication(parse_dg15(files["DG15"]), dump.aa_challenge,  # type: ignore[attr-defined]
                                        dump.aa_signature, dg14).valid  # type: ignore[attr-defined]


@pytest.mark.parametrize("oid,pid", [
    (ECDH_GM + "1", 8), (ECDH_GM + "2", 9), (ECDH_GM + "2", 10), (ECDH_GM + "2", 11), (ECDH_GM + "2", 12),
    (ECDH_GM + "2", 13), (ECDH_GM + "3", 14), (ECDH_GM + "3", 15), (ECDH_GM + "4", 16), (ECDH_GM + "4", 17),
    (ECDH_GM + "4", 18), (DH_GM + "1", 0), (DH_GM + "2", 1), (DH_GM + "4", 2),
    (ECDH_IM + "2", 13), (ECDH_IM + "1", 12), (ECDH_IM + "4", 18), (DH_IM + "2", 0), (DH_IM + "3", 2),
])
def test_pace_every_standard_domain(oid: str, pid: int) -> None:
    """PACE-GM on every standardized domain (ICAO 9303 Part 11 table; RFC 5114 DH groups),
    PACE-IM on a few, 3DES and AES-128/192/256, both passwords."""
    from proofing.nfc.vchip import make_profile

    prof = make_profile(pace_oid=oid, pace_parameter_id=pid, dg2_size=1500, aa="ec" if pid == 12 else "rsa")
    for key in (MrzKey(prof.document_number, prof.birth, prof.expiry), CanKey(prof.can or "")):
        challenge = os.urandom(8)
        dump = read_chip(_direct(prof), key, challenge=challenge)  # type: ignore[arg-type]
        assert dump.access_control == "PACE"
        assert dump.files == prof.files
        assert dump.chip_authentication and dump.chip_authentication["performed"]
        assert _aa_valid(dump)


def test_large_file_uses_odd_read_binary_and_fallbacks() -> None:
    """A 40 KB DG2 (offsets past 32767 need READ BINARY B1); chips that do not take
    extended Le, that announce nothing, and that chain answers with 61xx."""
    import dataclasses

    from proofing.nfc.vchip import Faults, VirtualChip, make_profile
    from proofing.nfc.vchip.card import DirectTransport

    prof = make_profile(dg2_size=40_000)
    key = CanKey(prof.can or "")
    cases: list[tuple[dict[str, Any], Faults, bool]] = [
        ({}, Faults(), True),  # ATR announces extended length
        ({"atr_caps": False}, Faults(), True),  # EF.ATR/INFO does
        ({"atr_caps": False, "atr_info": False}, Faults(), True),  # nothing does: try, it works
        ({"atr_caps": False, "atr_info": False, "extended_length": False}, Faults(), False),  # try, fall back
        ({"extended_length": False}, Faults(chain_responses=True), False),  # T=0 style 61xx chaining
        ({"atr_caps": False}, Faults(exact_le=True), True),  # 6Cxx: resend with the exact Le
    ]
    for changes, faults, extended in cases:
        p = dataclasses.replace(prof, **changes)
        chip = VirtualChip(p, faults)
        timings: dict[str, float] = {}
        dump = read_chip(DirectTransport(chip), key, timings=timings)
        assert dump.files == p.files, changes
        assert bool(timings["extended_length"]) is extended, changes


def test_ecdsa_aa_and_replay_in_process() -> None:
    from proofing.nfc.vchip import make_profile

    prof = make_profile(aa="ec", dg2_size=500)
    dump = read_chip(_direct(prof), CanKey(prof.can or ""), challenge=b"\x11" * 8)  # type: ignore[arg-type]
    assert _aa_valid(dump)
    dump.aa_challenge = b"\x22" * 8  # the old signature against a new challenge
    assert not _aa_valid(dump)


@pytest.mark.parametrize("fault,error", [
    ({"bad_mac_at_read": 3}, SecureMessagingError),
    ({"truncate": {"DG2": 1000}}, ChipError),
    ({"truncate": {"DG1": 3}}, ChipError),
    ({"drop_at_read": 4}, CardRemoved),
    ({"hide": frozenset({"DG15"})}, ChipError),  # skipping AA by hiding DG15 does not pass
])
def test_faults_in_process(fault: dict[str, object], error: type[Exception]) -> None:
    from proofing.nfc.vchip import Faults, make_profile

    prof = make_profile(dg2_size=3000)
    with pytest.raises(error):
        read_chip(_direct(prof, Faults(**fault)), CanKey(prof.can or ""))  # type: ignore[arg-type]


def test_bac_wrong_mrz_and_can_without_pace() -> None:
    from proofing.nfc.errors import AuthenticationError
    from proofing.nfc.vchip import make_profile

    prof = make_profile(pace_oid=None, dg2_size=500)
    with pytest.raises(AuthenticationError):
        read_chip(_direct(prof), MrzKey(prof.document_number, prof.birth, "991231"))  # type: ignore[arg-type]
    with pytest.raises(ChipError, match="CAN needs PACE"):
        read_chip(_direct(prof), CanKey("123456"))  # type: ignore[arg-type]


def test_pace_refused_falls_back_to_bac() -> None:
    from proofing.nfc.vchip import Faults, make_profile

    prof = make_profile(dg2_size=500)
    mrz = MrzKey(prof.document_number, prof.birth, prof.expiry)
    dump = read_chip(_direct(prof, Faults(refuse_pace=True)), mrz)  # type: ignore[arg-type]
    assert dump.access_control == "BAC" and dump.files == prof.files
    with pytest.raises(ChipError):  # the CAN has no BAC to fall back to
        read_chip(_direct(prof, Faults(refuse_pace=True)), CanKey(prof.can or ""))  # type: ignore[arg-type]


def test_pace_cam_in_process() -> None:
    """PACE with Chip Authentication Mapping: the chip proves its EF.CardSecurity key inside
    PACE; a chip holding another key is caught."""
    import dataclasses

    from cryptography.hazmat.primitives.asymmetric import ec

    from proofing.nfc.errors import AuthenticationError
    from proofing.nfc.vchip import make_profile

    prof = make_profile(pace_oid="0.4.0.127.0.7.2.2.4.6.2", pace_parameter_id=13, dg2_size=800)
    dump = read_chip(_direct(prof), CanKey(prof.can or ""))  # type: ignore[arg-type]
    assert dump.chip_authentication and dump.chip_authentication["mapping"] == "PACE-CAM"
    assert dump.files["EF.CardSecurity"] == prof.files["EF.CardSecurity"]
    clone = dataclasses.replace(prof, ca_key=ec.generate_private_key(ec.BrainpoolP256R1()))
    with pytest.raises(AuthenticationError, match="CAM"):
        read_chip(_direct(clone), CanKey(prof.can or ""))  # type: ignore[arg-type]


def test_wrong_le_is_resent_with_the_exact_length() -> None:
    """6Cxx: the chip names the exact length; the channel asks again with it."""
    from proofing.nfc.apdu import CommandApdu
    from proofing.nfc.transport import Channel
    from proofing.nfc.vchip import DirectTransport, Faults, VirtualChip, make_profile
    from proofing.nfc.vchip.card import atr_info

    chip = VirtualChip(make_profile(dg2_size=500), Faults(exact_le=True))
    ch = Channel(DirectTransport(chip))
    assert ch.send(CommandApdu(0, 0xA4, 0x02, 0x0C, b"\x2f\x01")).ok
    r = ch.send(CommandApdu(0, 0xB0, 0, 0, le=256))
    assert r.ok and r.data == atr_info(True) and ch.exchanges == 3


@pytest.mark.parametrize("protocol", ["0.4.0.127.0.7.2.2.3.2.1", "0.4.0.127.0.7.2.2.3.2.4", None])
def test_chip_authentication_variants(protocol: str | None) -> None:
    """CA switching an AES PACE session to 3DES or AES-256, and the legacy MSE:Set KAT form
    for a DG14 without ChipAuthenticationInfo; the files after the switch still read."""
    from proofing.nfc.vchip import make_profile

    prof = make_profile(dg2_size=2500, ca_protocol=protocol)
    dump = read_chip(_direct(prof), CanKey(prof.can or ""), challenge=b"\x07" * 8)  # type: ignore[arg-type]
    assert dump.files == prof.files and _aa_valid(dump)
    ca_result = dump.chip_authentication or {}
    assert ca_result.get("performed") is True
    assert ca_result.get("protocol") == (protocol or "0.4.0.127.0.7.2.2.3.2.1")


def test_extended_length_can_be_forced_off() -> None:
    from proofing.nfc.vchip import DirectTransport, VirtualChip, make_profile

    prof = make_profile(dg2_size=5000)
    chip = VirtualChip(prof)
    dump = read_chip(DirectTransport(chip), CanKey(prof.can or ""), extended_length=False)
    assert dump.files == prof.files and chip.extended_reads == 0
