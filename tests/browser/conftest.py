"""Real-browser tests: the real app in a subprocess (SQLite in a tmp data dir), headless
Debian Chromium driven by Playwright, a fake webcam playing y4m files made from real
images. Skipped, with the reason, where Chromium or Playwright is missing.

Screenshots go to ``$PROOFING_SCREENSHOTS`` when set, else to pytest's tmp dir; their
paths are printed (``pytest -s`` shows them).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path(os.environ.get("PROOFING_CHROMIUM", "/usr/bin/chromium"))
REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("PROOFING_SHARED_DATA_DIR") or REPO.parent / "shared" / "data")
REVIEWER = ("rita", "reviewer", "correct horse battery staple")

CHROMIUM_ARGS = [
    "--use-fake-ui-for-media-stream",  # grant the camera without a prompt
    "--use-fake-device-for-media-stream",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

def _playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:  # pragma: no cover - depends on the machine
        pytest.skip(f"playwright is not installed ({e}); pip install -e '.[dev]'")
    return sync_playwright


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set PROOFING_CHROMIUM)")
    return CHROMIUM


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Any, str], Path]:
    """shot(page, name) saves a full-page PNG and prints its path."""
    env = os.environ.get("PROOFING_SCREENSHOTS")
    directory = Path(env) if env else tmp_path_factory.mktemp("screenshots")
    directory.mkdir(parents=True, exist_ok=True)

    def shot(page: Any, name: str) -> Path:
        path = directory / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot: {path}")
        return path

    return shot


# -- the app ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_command(port: int) -> list[str]:
    """``proofing serve`` when this checkout has it, else uvicorn on the same app factory."""
    exe = Path(sys.executable).with_name("proofing")
    if exe.is_file():
        probe = subprocess.run([str(exe), "serve", "--help"], capture_output=True, text=True, timeout=60)
        if probe.returncode == 0 and "--port" in probe.stdout:
            return [str(exe), "serve", "--host", "127.0.0.1", "--port", str(port)]
    return [sys.executable, "-m", "uvicorn", "--factory", "service.app:app_from_env",
            "--host", "127.0.0.1", "--port", str(port)]


@dataclass
class Server:
    url: str
    data_dir: Path
    database_url: str
    log: Path
    env: dict[str, str] = field(repr=False)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("app")
    data_dir = root / "data"
    data_dir.mkdir()
    env = dict(os.environ)
    env["PROOFING_DATA_DIR"] = str(data_dir)
    # The embedded default, as on a fresh install: SQLite and evidence keys in the data
    # dir, sessions processed in-process, no other service.
    for name in ("PROOFING_DATABASE_URL", "PROOFING_EVIDENCE_KEYS", "PROOFING_BROKER_URL", "PROOFING_STORAGE_URL"):
        env.pop(name, None)
    db_url = f"sqlite:///{data_dir / 'proofing.db'}"
    port = _free_port()
    log = root / "server.log"
    cmd = _serve_command(port)
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the app exited ({proc.returncode}): {' '.join(cmd)}\n{log.read_text()[-4000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                pytest.fail(f"the app did not answer /healthz in 90 s\n{log.read_text()[-4000:]}")
            time.sleep(0.3)
        print(f"app: {' '.join(cmd)} at {url}, log {log}")
        yield Server(url, data_dir, db_url, log, env)
    finally:
        # Stop the process group we started (uvicorn may have worker children), by its id.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)


@pytest.fixture(scope="session")
def reviewer(server: Server) -> tuple[str, str]:
    """A console account with a password, made as an operator would (through the store)."""
    from proofing.review import add_user, open_store
    from proofing.review.accounts import set_password
    from proofing.settings import Settings

    name, role, password = REVIEWER
    store = open_store(settings=Settings(data_dir=server.data_dir))
    try:
        add_user(store, name, role)
        set_password(store, name, password)
    finally:
        store.close()
    return name, password


# -- the fake camera --------------------------------------------------------------------


@dataclass(frozen=True)
class Videos:
    document: Path
    selfie: Path
    faces_from: str
    page: Path  # the rendered data page (PNG), for the upload-a-photo path
    portrait_jpeg: bytes = field(repr=False)  # the face printed on the page and put in DG2


@pytest.fixture(scope="session")
def videos(tmp_path_factory: pytest.TempPathFactory) -> Videos:
    import fake_camera as media  # beside this file; pytest puts this directory on sys.path

    directory = tmp_path_factory.mktemp("camera")
    faces = media.find_faces(SHARED if SHARED.is_dir() else None)
    import cv2

    portrait = media.portrait(faces.page)
    page = media.document_page(faces.page)
    doc = media.write_y4m(directory / "document.y4m", media.document_frames(page))
    selfie = media.write_y4m(directory / "selfie.y4m", media.selfie_frames(faces.selfie))
    page_png = directory / "page.png"
    cv2.imwrite(str(page_png), page)
    ok, jpeg = cv2.imencode(".jpg", portrait, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    print(f"fake camera: {doc} (rendered specimen page), {selfie} (faces from {faces.source})")
    return Videos(doc, selfie, faces.source, page_png, jpeg.tobytes())


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    with _playwright()() as pw:
        yield pw


@pytest.fixture(scope="session")
def launch(playwright: Any, chromium_path: Path) -> Iterator[Callable[..., Any]]:
    """launch(video=None) -> a headless Chromium whose webcam plays ``video``."""
    browsers: list[Any] = []

    def _launch(video: Path | None = None) -> Any:
        args = list(CHROMIUM_ARGS)
        if video is not None:
            args.append(f"--use-file-for-fake-video-capture={video}")
        browser = playwright.chromium.launch(executable_path=str(chromium_path), headless=True, args=args)
        browsers.append(browser)
        return browser

    yield _launch
    for b in browsers:
        with contextlib.suppress(Exception):
            b.close()


# -- the chip: what `proofing read-chip --session URL --token T` does, minus PC/SC ----------


def read_and_upload_chip(command: str, portrait_jpeg: bytes) -> dict[str, Any]:
    """Run the page's ``proofing read-chip`` command line against a virtual chip (the demo's
    MRZ, ``portrait_jpeg`` in DG2, signed by a fresh test PKI the server does not trust),
    in-process instead of through PC/SC: Active Authentication over the command's
    challenge, then the upload with the command's own upload function."""
    import shlex

    from proofing.cli.chip_read import _upload
    from proofing.nfc import testpki
    from proofing.nfc.bac import MrzKey
    from proofing.nfc.reader import read_chip
    from proofing.nfc.vchip import DirectTransport, VirtualChip
    from proofing.nfc.vchip.profile import from_testpki
    from proofing.pipeline.samples import demo_mrz

    words = shlex.split(command)
    assert words[:2] == ["proofing", "read-chip"], command
    opts = dict(zip(words[2::2], words[3::2], strict=True))
    lines = demo_mrz()
    profile = testpki.make_profile(lines, face_jpeg=portrait_jpeg)
    transport = DirectTransport(VirtualChip(from_testpki(profile)))
    # The access key the applicant types in for the placeholders: from the printed MRZ.
    dump = read_chip(transport, MrzKey.from_mrz_lines(lines), challenge=bytes.fromhex(opts["--challenge"]))
    return _upload(opts["--session"], opts["--token"], dump)


# -- one applicant session through the page, shared by both test files --------------------


@dataclass
class ApplicantRun:
    session_id: str
    token: str
    decision: str
    result_text: str
    reasons: list[str]
    screenshots: list[Path]
    page_errors: list[str]


def _watch_console(page: Any, errors: list[str]) -> None:
    # Uncaught exceptions in the page's scripts (refused requests are logged by the
    # browser as console errors and are part of normal operation, e.g. a 429).
    page.on("pageerror", lambda e: errors.append(str(e)))


def run_applicant(server: Server, launch: Callable[..., Any], videos: Videos,
                  shot: Callable[[Any, str], Path]) -> ApplicantRun:
    """The applicant's whole session in the browser. The webcam of one browser plays one
    file, so the page's own hand-off link moves the session from a browser showing the
    passport to a second one showing the face, as an applicant moves to their phone."""
    from playwright.sync_api import expect

    shots: list[Path] = []
    errors: list[str] = []
    desk = launch(videos.document).new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    page = desk.new_page()
    _watch_console(page, errors)
    page.goto(server.url + "/")
    expect(page.locator("body[data-ready=true]")).to_be_attached(timeout=15000)
    shots.append(shot(page, "applicant-1-welcome"))
    page.get_by_role("button", name="Start").click()

    expect(page.locator("#step-document")).to_be_visible()
    expect(page.locator("#h-document")).to_be_focused()
    # The live MRZ feedback says "hold still" once a frame reads; the upload follows.
    expect(page.locator("#document-feedback")).not_to_be_empty(timeout=30000)
    expect(page.locator("#step-chip")).to_be_visible(timeout=120000)
    expect(page.locator("#h-chip")).to_be_focused()
    session_id = page.locator("#session-code").inner_text().strip()
    command = page.locator("#chip-command").inner_text()
    assert command.startswith(f"proofing read-chip --session {server.url}/v1/sessions/{session_id} --token ")
    shots.append(shot(page, "applicant-2-chip"))
    page.locator("#handoff summary").click()
    handoff = page.locator("#handoff-link").get_attribute("href") or ""
    assert "#" in handoff and "token=" in handoff
    token = dict(p.split("=", 1) for p in handoff.split("#", 1)[1].split("&"))["token"]
    desk.close()

    phone = launch(videos.selfie).new_context(viewport={"width": 412, "height": 915}, is_mobile=True,
                                              has_touch=True, device_scale_factor=2, locale="en-GB")
    page = phone.new_page()
    _watch_console(page, errors)
    page.goto(handoff)
    expect(page.locator("#step-chip")).to_be_visible(timeout=15000)
    assert "token=" not in page.url  # the page removes the secret from the address bar
    # The applicant runs the command shown here (the hand-off carried the challenge); the
    # page notices the chip files by itself.
    command = page.locator("#chip-command").inner_text()
    assert " --challenge " in command
    read_and_upload_chip(command, videos.portrait_jpeg)
    expect(page.locator("#step-selfie")).to_be_visible(timeout=20000)
    expect(page.locator("#h-selfie")).to_be_focused()
    try:
        expect(page.locator("#selfie-progress")).to_be_visible(timeout=30000)
    except AssertionError:  # no live face hints on this machine (no face model): by hand
        page.get_by_role("button", name="Take the picture now").click()
        expect(page.locator("#selfie-progress")).to_be_visible(timeout=10000)
    shots.append(shot(page, "applicant-3-selfie"))
    expect(page.locator("#step-result")).to_be_visible(timeout=240000)
    expect(page.locator("#h-result")).to_be_focused()
    shots.append(shot(page, "applicant-4-result"))
    result = page.locator("#step-result")
    decision = result.get_attribute("data-decision") or ""
    reasons = [li.get_attribute("data-code") or "" for li in page.locator("#result-reasons li").all()]
    text = page.locator("#h-result").inner_text()
    phone.close()
    return ApplicantRun(session_id, token, decision, text, reasons, shots, errors)


@pytest.fixture(scope="session")
def applicant_run(launch: Callable[..., Any], server: Server, videos: Videos,
                  screenshots: Callable[[Any, str], Path]) -> ApplicantRun:
    # ``launch`` first: without Chromium the test skips before the app is started.
    return run_applicant(server, launch, videos, screenshots)
