"""``python -m proofing.nfc.vchip``: run a virtual eMRTD chip behind pcscd's vpcd reader."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from proofing.nfc.vchip.card import Faults, VirtualChip
from proofing.nfc.vchip.profile import load_profile, make_profile, save_profile
from proofing.nfc.vchip.vpcd import run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m proofing.nfc.vchip", description=__doc__)
    ap.add_argument("--profile", type=Path, help="profile or dump directory (default: a fresh test chip)")
    ap.add_argument("--make-profile", type=Path, metavar="DIR",
                    help="write a fresh test passport (signed by a new test PKI) and exit")
    ap.add_argument("--unsigned", action="store_true",
                    help="a quick unsigned test chip (no EF.SOD) instead of the test PKI's")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=35963)
    ap.add_argument("--no-extended", action="store_true", help="refuse extended-length APDUs")
    ap.add_argument("--plain-atr", action="store_true",
                    help="no card capabilities in the ATR (the reader must look at EF.ATR/INFO)")
    ap.add_argument("--no-atr-info", action="store_true", help="no EF.ATR/INFO file")
    ap.add_argument("--chain-responses", action="store_true", help="answer data via 61xx + GET RESPONSE")
    ap.add_argument("--bad-mac-at-read", type=int, help="corrupt the MAC of the Nth READ BINARY answer")
    ap.add_argument("--truncate", action="append", default=[], metavar="FILE=BYTES",
                    help="serve FILE cut to BYTES (e.g. DG2=5000)")
    ap.add_argument("--drop-at-read", type=int, help="leave the field at the Nth READ BINARY")
    ap.add_argument("--hide", action="append", default=[], metavar="FILE",
                    help="answer SELECT FILE with a plain 6A82 (a man in the middle hiding it)")
    ap.add_argument("--delay", type=float, default=0.0, help="seconds to wait before each answer under secure messaging")
    ap.add_argument("--once", action="store_true", help="exit after the first connection ends")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="vchip: %(message)s")

    if args.make_profile:
        if args.unsigned:
            save_profile(make_profile(), args.make_profile)
        else:
            from proofing.nfc.testpki import make_profile as make_signed

            make_signed().save(args.make_profile)
        print(f"vchip: profile written to {args.make_profile}")
        return 0
    if args.profile:
        profile = load_profile(args.profile)
    elif args.unsigned:
        profile = make_profile()
    else:
        from proofing.nfc.testpki import make_profile as make_signed
        from proofing.nfc.vchip.profile import from_testpki

        profile = from_testpki(make_signed())
    if args.no_extended:
        profile.extended_length = False
    if args.plain_atr:
        profile.atr_caps = False
    if args.no_atr_info:
        profile.atr_info = False
    faults = Faults(bad_mac_at_read=args.bad_mac_at_read, drop_at_read=args.drop_at_read, delay=args.delay,
                    chain_responses=args.chain_responses, hide=frozenset(args.hide),
                    truncate={k: int(v) for k, v in (t.split("=", 1) for t in args.truncate)})
    chip = VirtualChip(profile, faults)
    print(f"vchip: serving {sorted(profile.files)} to vpcd at {args.host}:{args.port}", flush=True)
    try:
        run(chip, args.host, args.port, reconnect=not args.once)
    except (ConnectionError, KeyboardInterrupt) as exc:
        print(f"vchip: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
