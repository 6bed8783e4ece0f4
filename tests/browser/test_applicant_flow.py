"""The applicant's webcam page in real headless Chromium with a fake camera fed from y4m
files made from real images (see fake_camera.py and conftest.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow

I18N = Path(__file__).resolve().parents[2] / "service" / "static" / "i18n"


def test_catalogues_have_the_same_messages() -> None:
    en = json.loads((I18N / "en.json").read_text())
    for lang in ("et", "ru"):
        other = json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))
        assert set(other) == set(en), f"{lang}.json: missing {set(en) - set(other)}, extra {set(other) - set(en)}"
        assert all(isinstance(v, str) and v.strip() for v in other.values())
    # Every live-feedback code the service can send has a translation.
    from proofing.intake.feedback import MESSAGES

    assert {f"fb.{code}" for code in MESSAGES} <= set(en)
    # ... and every reason the policy can give the applicant.
    from proofing.policy import load_policy

    codes = {f"reason.{rule.code}" for rule in load_policy().rules}
    assert codes <= set(en), codes - set(en)


def test_applicant_completes_a_session(applicant_run: Any, server: Any) -> None:
    run = applicant_run
    assert not run.page_errors, run.page_errors
    # The chip was read, but the server does not trust the test PKI that signed it: the
    # policy cannot decide alone (REVIEW), and a reviewer gets the case.
    print(f"decision {run.decision}, reasons {run.reasons}")
    assert run.decision == "REVIEW", (run.decision, run.reasons)
    assert "CSCA_UNKNOWN" in run.reasons
    assert "CHIP_NOT_READ" not in run.reasons
    assert run.result_text == "A person will check your documents"
    state = httpx.get(f"{server.url}/v1/sessions/{run.session_id}",
                      headers={"Authorization": f"Bearer {run.token}"}, timeout=10).json()
    assert state["status"] == "decided" and state["decision"] == "REVIEW"
    assert all(p.is_file() and p.stat().st_size > 0 for p in run.screenshots)


def test_languages_keyboard_upload_and_skip(launch: Callable[..., Any], server: Any, videos: Any,
                                            screenshots: Callable[[Any, str], Path]) -> None:
    """Estonian from navigator.language, Russian from the picker; keyboard only; the
    upload-a-photo path for the page; the "no NFC reader" path; translated live feedback
    (this browser's fake camera is Chromium's test pattern: no face in it)."""
    from playwright.sync_api import expect

    context = launch().new_context(locale="et-EE")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/")
    expect(page.locator("body[data-ready=true]")).to_be_attached(timeout=15000)
    # navigator.language picks Estonian; the picker switches to Russian and is remembered.
    assert page.locator("html").get_attribute("lang") == "et"
    expect(page.locator("#start")).to_have_text("Alusta")
    page.get_by_label("Keel").select_option("ru")
    expect(page.locator("#start")).to_have_text("Начать")
    assert page.locator("html").get_attribute("lang") == "ru"
    screenshots(page, "applicant-welcome-ru")
    page.reload()
    expect(page.locator("#start")).to_have_text("Начать")

    # Keyboard: the first Tab reaches the skip link, Enter on Start opens the first step
    # and moves the focus to its heading.
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.locator("#start").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#h-document")).to_be_focused(timeout=15000)
    # Screen readers: feedback regions are live, errors are alerts, controls are labelled.
    assert page.locator("#document-feedback").get_attribute("aria-live") == "polite"
    assert page.locator("#error").get_attribute("role") == "alert"
    expect(page.get_by_label("Язык")).to_be_visible()
    expect(page.locator("#progress li[aria-current=step]")).to_have_attribute("data-step", "document")

    page.locator("#document-file").set_input_files(str(videos.page))
    expect(page.locator("#h-chip")).to_be_focused(timeout=30000)
    expect(page.locator("#chip-status")).to_have_text("Ожидание данных чипа…")
    page.locator("#chip-skip").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#h-selfie")).to_be_focused()
    feedback = page.locator("#selfie-feedback")
    # Wait for the server's verdict on a frame (not our own "starting" / "looking" texts):
    # it is shown from the Russian catalogue, with no English left over.
    expect(feedback).not_to_have_text(re.compile("^(Включаем камеру…|Ищем ваше лицо…|)$"), timeout=30000)
    expect(feedback).to_have_text(re.compile("^[^A-Za-z]*[А-Яа-я][^A-Za-z]*$"))
    screenshots(page, "applicant-selfie-ru")
    assert not errors, errors
    context.close()
