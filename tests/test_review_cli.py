"""``proofing review user`` + ``password``: an operator gives a reviewer a console login."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from proofing.cli import app
from proofing.review import PermissionDenied, open_store
from proofing.review.accounts import verify_password


def test_user_and_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROOFING_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    assert runner.invoke(app, ["review", "user", "erin", "reviewer"]).exit_code == 0
    out = runner.invoke(app, ["review", "password", "erin", "--stdin"], input="too short\n")
    assert out.exit_code == 2 and "12 characters" in out.output
    out = runner.invoke(app, ["review", "password", "nobody", "--stdin"], input="correct horse battery\n")
    assert out.exit_code == 1 and "unknown user" in out.output
    out = runner.invoke(app, ["review", "password", "erin", "--stdin"], input="correct horse battery\n")
    assert out.exit_code == 0, out.output
    store = open_store()
    try:
        assert verify_password(store, "erin", "correct horse battery") == "reviewer"
        with pytest.raises(PermissionDenied):
            verify_password(store, "erin", "correct horse batter")
    finally:
        store.close()
