"""The two pages: plain files from service/templates (a placeholder while absent)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse, Response

router = APIRouter(include_in_schema=False)
TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"

PLACEHOLDER = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>proofing</title></head>
<body><main><h1>proofing</h1><p>{what} is not installed (service/templates/{name}).</p></main></body></html>"""


def _page(name: str, what: str) -> Response:
    path = TEMPLATES_DIR / name
    if path.is_file():
        return FileResponse(path, media_type="text/html; charset=utf-8")
    return HTMLResponse(PLACEHOLDER.format(what=what, name=name))


@router.get("/")
def applicant_page() -> Response:
    return _page("applicant.html", "The applicant page")


@router.get("/console")
def console_page() -> Response:
    return _page("console.html", "The reviewer console")


@router.get("/console/login")
def login_page() -> Response:
    return _page("login.html", "The console login page")
