"""The reviewer console in real headless Chromium: sign in, claim the case that the
applicant's session (conftest.applicant_run) produced, decide it, see the audit trail."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow


def test_reviewer_claims_and_decides_the_applicants_case(
    applicant_run: Any, server: Any, reviewer: tuple[str, str], launch: Callable[..., Any],
    screenshots: Callable[[Any, str], Path],
) -> None:
    from playwright.sync_api import expect

    name, password = reviewer
    context = launch().new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))

    # Not signed in: the console sends us to the login page. A wrong password is refused.
    page.goto(server.url + "/console")
    page.wait_for_url("**/console/login", timeout=15000)
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console", timeout=15000)
    expect(page.locator("#who")).to_contain_text(name)

    # The queue shows the applicant's case with its SLA deadline.
    row = page.locator(f"#queue tr[data-session='{applicant_run.session_id}']")
    expect(row).to_be_visible(timeout=15000)
    expect(row).to_contain_text("REVIEW")
    expect(row).to_contain_text("CSCA_UNKNOWN")
    assert row.locator("time").get_attribute("datetime")
    page.get_by_label("Status").select_option("queued")
    expect(row).to_be_visible()
    screenshots(page, "console-1-queue")

    row.get_by_role("button", name="Claim").click()
    expect(page.locator("#case-view")).to_be_visible()
    expect(page.locator("#h-case")).to_be_focused()
    expect(page.locator("#case-meta")).to_contain_text(name)

    # Side by side: the selfie, the chip's DG2 photo and the printed portrait.
    faces = page.locator("#faces figure")
    expect(faces).to_have_count(3)
    for label in ("Selfie", "Chip photo (DG2)", "Document portrait"):
        img = page.locator(f"#faces figure[data-kind='{label}'] img")
        expect(img).to_be_visible()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    selfie = page.locator("#faces figure[data-kind='Selfie']")
    selfie.get_by_role("button", name="Zoom in: Selfie").click()
    selfie.get_by_role("button", name="Rotate: Selfie").click()
    transform = selfie.locator("img").evaluate("img => img.style.transform")
    assert "scale(1.25)" in transform and "rotate(90deg)" in transform

    # Every score with its threshold, the reasons, the MRZ fields.
    expect(page.locator("#scores tbody tr").first).to_be_visible()
    assert page.locator("#scores tbody tr").count() >= 1
    expect(page.locator("#reasons")).to_contain_text("CSCA_UNKNOWN")
    # The printed MRZ and the chip's DG1 agree field by field (a difference would say so).
    fields = page.locator("#fields tbody tr")
    expect(fields.first).to_be_visible()
    states = [s.strip() for s in page.locator("#fields td.state").all_inner_texts()]
    assert states and "same" in states and "DIFFERS" not in states, states
    screenshots(page, "console-2-case")

    # A decision needs a reason; a double click submits once.
    accept = page.locator("#decide-buttons button[data-action=accept]")
    accept.click()
    expect(page.get_by_role("alert")).to_contain_text("reason")
    decide_posts: list[str] = []
    page.on("request", lambda r: decide_posts.append(r.url) if r.method == "POST" and r.url.endswith("/decide") else None)
    page.get_by_label("Reason (required)").fill("Chip, page and selfie agree; test CSCA checked by hand.")
    accept.dblclick()
    expect(page.locator("#status")).to_contain_text("Decision recorded: ACCEPT")
    assert len(decide_posts) == 1, decide_posts
    expect(page.locator("#case-meta")).to_contain_text("ACCEPT by " + name)
    entry = page.locator("#audit tbody tr[data-action=decide]")
    expect(entry).to_have_count(1)
    expect(entry).to_contain_text(name)
    expect(entry).to_contain_text("ACCEPT")
    expect(page.locator("#audit tbody tr[data-action=claim]")).to_have_count(1)
    expect(accept).to_be_disabled()
    screenshots(page, "console-3-decided")

    # The applicant now sees the reviewer's decision.
    state = httpx.get(f"{server.url}/v1/sessions/{applicant_run.session_id}",
                      headers={"Authorization": f"Bearer {applicant_run.token}"}, timeout=10).json()
    assert state["decision"] == "ACCEPT"

    # Back in the queue, nothing is left to claim.
    page.get_by_role("link", name="Back to the queue").click()
    expect(page.locator("#queue-view")).to_be_visible()
    page.get_by_role("button", name="Claim next case").click()
    expect(page.locator("#status")).to_contain_text("The queue is empty")

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/console/login", timeout=15000)
    assert not errors, errors
    context.close()
