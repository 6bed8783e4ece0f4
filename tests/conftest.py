"""Shared fixtures. Real data lives in ../shared (never copied here); tests that need it
skip with a clear reason where it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_SHARED = Path(os.environ.get("PROOFING_SHARED_DATA_DIR") or REPO.parent / "shared" / "data")
_MODELS = Path(os.environ.get("PROOFING_MODELS_DIR") or REPO.parent / "shared" / "models")

# Point the model registry at the shared models unless the caller chose otherwise.
if _MODELS.is_dir():
    os.environ.setdefault("PROOFING_MODELS_DIR", str(_MODELS))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, or skip: the real specimens and pair lists are not in the repo."""
    if not _SHARED.is_dir():
        pytest.skip(f"shared data not found at {_SHARED} (set PROOFING_SHARED_DATA_DIR)")
    return _SHARED


@pytest.fixture(scope="session")
def models_dir() -> Path:
    """../shared/models, or skip: weights are never committed."""
    if not _MODELS.is_dir():
        pytest.skip(f"models not found at {_MODELS} (set PROOFING_MODELS_DIR)")
    return _MODELS


@pytest.fixture(scope="session")
def icao_vectors(shared_data: Path) -> dict:
    import json

    return json.loads((shared_data / "icao9303" / "icao9303_test_vectors.json").read_text())


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private PROOFING_DATA_DIR for one test."""
    monkeypatch.setenv("PROOFING_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"
