"""``proofing evidence verify``: a record signed by this installation verifies; a record
with a changed byte, or checked against another key set, does not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from proofing.cli import app
from proofing.evidence import jwks, sign_record
from proofing.settings import Settings


def test_verify_record_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROOFING_DATA_DIR", str(tmp_path / "data"))
    settings = Settings(data_dir=tmp_path / "data")
    token = sign_record({"sub": "s-1", "decision": "ACCEPT", "evidence": []}, settings)
    good = tmp_path / "r.jws"
    good.write_text(token)
    runner = CliRunner()
    out = runner.invoke(app, ["evidence", "verify", str(good), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["payload"]["decision"] == "ACCEPT"

    head, body, sig = token.split(".")
    bad = tmp_path / "bad.jws"
    bad.write_text(f"{head}.{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{sig}")
    assert runner.invoke(app, ["evidence", "verify", str(bad)]).exit_code == 1

    other = tmp_path / "other.json"
    other.write_text(json.dumps(jwks(Settings(data_dir=tmp_path / "other"))))
    out = runner.invoke(app, ["evidence", "verify", str(good), "--jwks", str(other)])
    assert out.exit_code == 1 and "unknown key" in out.output
