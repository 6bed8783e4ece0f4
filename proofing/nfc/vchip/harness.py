"""Start pcscd (if needed) and a virtual chip process behind vpcd, for tests and benchmarks.

Only processes started here are stopped here, by their PID; a pcscd already running with
the vpcd reader is reused and left alone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from proofing.nfc.errors import TransportError
from proofing.nfc.transport import PcscTransport

VPCD_DRIVER = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
READER = "Virtual PCD 00 00"
REPO = Path(__file__).resolve().parents[3]


def vpcd_readers() -> list[str]:
    try:
        from smartcard.System import readers

        return [str(r) for r in readers() if str(r).startswith("Virtual PCD")]
    except Exception:
        return []


def missing_requirements() -> str | None:
    """Why PC/SC end-to-end runs cannot happen here, or None when they can."""
    try:
        import smartcard  # noqa: F401
    except ImportError:
        return "pyscard is not installed (pip install pyscard; needs swig and libpcsclite-dev)"
    if not shutil.which("pcscd") and not Path("/usr/sbin/pcscd").exists():
        return "pcscd is not installed (apt-get install pcscd)"
    if not VPCD_DRIVER.exists():
        return "the vpcd reader driver is not installed (apt-get install vsmartcard-vpcd)"
    return None


@contextmanager
def pcscd_running(timeout: float = 10.0) -> Iterator[None]:
    """Yield with a pcscd that lists the vpcd reader; raises RuntimeError if that fails."""
    started: subprocess.Popen[bytes] | None = None
    if not vpcd_readers():
        with contextlib.suppress(OSError):  # not root: pcscd itself will say whether it can run
            Path("/run/pcscd").mkdir(parents=True, exist_ok=True)
        exe = shutil.which("pcscd") or "/usr/sbin/pcscd"
        started = subprocess.Popen([exe, "--foreground"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not vpcd_readers():
            if started.poll() is not None or time.monotonic() > deadline:
                started.kill()
                started.wait()
                raise RuntimeError("pcscd did not come up with the vpcd reader (another pcscd without vpcd?)")
            time.sleep(0.2)
    try:
        yield
    finally:
        if started is not None:
            started.terminate()
            try:
                started.wait(5)
            except subprocess.TimeoutExpired:
                started.kill()
                started.wait()


def _card_present() -> bool:
    try:
        PcscTransport(READER).connect().close()
        return True
    except TransportError:
        return False


@contextmanager
def chip_process(profile_dir: Path, *args: str, timeout: float = 20.0) -> Iterator[subprocess.Popen[bytes]]:
    """Run ``python -m proofing.nfc.vchip --profile DIR --once ARGS`` until the block ends."""
    deadline = time.monotonic() + 5
    while _card_present():  # the reader may still be noticing that the previous card left
        if time.monotonic() > deadline:
            raise RuntimeError(f"{READER} already holds a card (another virtual chip still running?)")
        time.sleep(0.1)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen([sys.executable, "-m", "proofing.nfc.vchip", "--profile", str(profile_dir),
                             "--once", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + timeout
        while not _card_present():
            if proc.poll() is not None or time.monotonic() > deadline:
                code = proc.poll()
                err = proc.stderr.read().decode() if proc.stderr and code is not None else ""
                why = f"it exited with {code}" if code is not None else f"not within {timeout:.0f} s"
                raise RuntimeError(f"the virtual chip did not appear in {READER} ({why}): {err}")
            time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and _card_present():
            time.sleep(0.1)  # let the reader notice the card is gone before the next one
