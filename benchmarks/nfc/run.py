"""Chip-reading benchmark: full sessions against the virtual chip over real PC/SC.

    .venv/bin/python -m benchmarks.nfc.run [--sessions N] [--out DIR]

Each session is what ``proofing read-chip`` does: connect, PACE (CAN), select the
application, read DG14 + Chip Authentication, EF.COM, EF.SOD, DG1, DG2 (~20 KB), DG15,
Active Authentication over a fresh challenge; then the server side, passive + active
authentication (``verify_chip``), is timed separately. The same sessions also run
in-process (no pcscd) to separate protocol cost from PC/SC transport cost. Results go to
``benchmarks/results/<date>/nfc.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
FILES = ("EF.COM", "EF.SOD", "DG1", "DG2", "DG14", "DG15")


def face_jpeg(target: int = 20_000) -> bytes:
    """A portrait JPEG of about ``target`` bytes (so DG2 is ~20 KB like a real passport's)."""
    import cv2
    import numpy as np

    from proofing.nfc.testpki import default_face_jpeg

    small, _, _ = default_face_jpeg()
    img = cv2.imdecode(np.frombuffer(small, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        return small
    best = small
    for scale in (1.0, 1.2, 1.4, 1.6, 1.8, 2.0):
        big = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        for q in range(70, 100, 3):
            ok, buf = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, q])
            if ok and len(buf) >= target * 0.95:
                return bytes(buf.tobytes())
            best = bytes(buf.tobytes()) if ok else best
    return best


def _stats(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    return {"median_ms": 1000 * statistics.median(xs), "p90_ms": 1000 * xs[int(0.9 * (len(xs) - 1))],
            "min_ms": 1000 * xs[0], "max_ms": 1000 * xs[-1], "n": len(xs)}


def run(sessions: int) -> dict[str, Any]:
    from proofing.nfc import testpki
    from proofing.nfc.bac import CanKey, MrzKey
    from proofing.nfc.reader import read_chip
    from proofing.nfc.transport import PcscTransport
    from proofing.nfc.trust import build_trust_store
    from proofing.nfc.vchip import DirectTransport, VirtualChip, harness
    from proofing.nfc.vchip.profile import from_testpki
    from proofing.nfc.verify import verify_chip

    tp = testpki.make_profile(face_jpeg=face_jpeg())
    work = Path(tempfile.mkdtemp(prefix="nfc-bench-"))
    tp.save(work / "chip")
    (work / "csca.der").write_bytes(tp.csca_der)
    trust = build_trust_store([work / "csca.der"])
    can = CanKey(tp.can)
    mrz = MrzKey.from_mrz_lines(tp.mrz_lines)
    sizes = {k: len(v) for k, v in tp.files.items()}
    out: dict[str, Any] = {"files": sizes, "sessions": sessions}

    def one(transport_factory: Any, key: Any, prefer_pace: bool = True) -> tuple[float, float, dict[str, float]]:
        challenge = os.urandom(8)
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        transport = transport_factory()
        try:
            dump = read_chip(transport, key, challenge=challenge, files=FILES, timings=timings,
                             prefer_pace=prefer_pace)
        finally:
            close = getattr(transport, "close", None)
            if close:
                close()
        t1 = time.perf_counter()
        result = verify_chip(dump, trust, challenge)
        t2 = time.perf_counter()
        if not result.valid:
            raise RuntimeError(f"verification failed: {result.to_dict()}")
        return t1 - t0, t2 - t1, timings

    prof = from_testpki(tp)
    for label, key, pace_first in (("in_process_pace", can, True), ("in_process_bac", mrz, False)):
        reads, phases = [], []
        for _ in range(sessions):
            r, _v, tm = one(lambda: DirectTransport(VirtualChip(prof)), key, pace_first)
            reads.append(r)
            phases.append(tm)
        out[label] = {"read": _stats(reads), "apdus": phases[-1]["apdus"]}

    reason = harness.missing_requirements()
    if reason:
        out["pcsc"] = {"skipped": reason}
        return out
    with harness.pcscd_running(), harness.chip_process(work / "chip"):
        for label, key, pace_first in (("pcsc_pace", can, True), ("pcsc_bac", mrz, False)):
            reads, verifies, access, files, aa = [], [], [], [], []
            one(lambda: PcscTransport(harness.READER).connect(), key, pace_first)  # warm-up
            for _ in range(sessions):
                r, v, tm = one(lambda: PcscTransport(harness.READER).connect(), key, pace_first)
                reads.append(r)
                verifies.append(v)
                access.append(tm["access_control"])
                files.append(tm["files"])
                aa.append(tm.get("active_auth", 0.0))
            out[label] = {"read": _stats(reads), "verify_pa_aa": _stats(verifies),
                          "access_control": _stats(access), "files_and_ca": _stats(files),
                          "active_auth": _stats(aa), "read_plus_verify_median_ms":
                          1000 * statistics.median([a + b for a, b in zip(reads, verifies, strict=True)]),
                          "apdus": tm["apdus"]}
    return out


def markdown(res: dict[str, Any]) -> str:
    lines = [f"# Chip reading benchmark ({res['date']})", "",
             f"Machine: {res['machine']}. {res['sessions']} sessions per row; times in ms.", "",
             "Files: " + ", ".join(f"{k} {v} B" for k, v in sorted(res["files"].items())), "",
             "| session | read median | read p90 | verify (PA+AA) median | APDUs |",
             "|---|---|---|---|---|"]
    for label in ("pcsc_pace", "pcsc_bac", "in_process_pace", "in_process_bac"):
        r = res.get(label)
        if not r or "read" not in r:
            continue
        v = r.get("verify_pa_aa", {}).get("median_ms")
        lines.append(f"| {label} | {r['read']['median_ms']:.1f} | {r['read']['p90_ms']:.1f} | "
                     f"{'' if v is None else f'{v:.1f}'} | {int(r['apdus'])} |")
    if "pcsc_pace" in res and "access_control" in res["pcsc_pace"]:
        p = res["pcsc_pace"]
        lines += ["", "PC/SC PACE session phases (median ms): access control "
                  f"{p['access_control']['median_ms']:.1f}, DG14+CA and files {p['files_and_ca']['median_ms']:.1f}, "
                  f"AA {p['active_auth']['median_ms']:.1f}; read + server verification "
                  f"{p['read_plus_verify_median_ms']:.1f}."]
    if isinstance(res.get("pcsc"), dict):
        lines += ["", f"PC/SC rows skipped: {res['pcsc']['skipped']}"]
    lines += ["", "pcsc_*: pyscard -> pcscd -> vpcd -> virtual chip (a separate process, TCP loopback); "
              "in_process_*: the same reader code against the virtual chip in the same process "
              "(protocol and crypto cost only). A real contactless chip is far slower (tens of ms per APDU)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    res = run(args.sessions)
    now = datetime.now(UTC)
    res["date"] = now.strftime("%Y-%m-%d %H:%M UTC")
    res["machine"] = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    out = args.out or REPO / "benchmarks" / "results" / now.strftime("%Y-%m-%d")
    out.mkdir(parents=True, exist_ok=True)
    (out / "nfc.json").write_text(json.dumps(res, indent=2))
    md = markdown(res)
    (out / "nfc.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
