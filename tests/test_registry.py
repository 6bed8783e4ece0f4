"""The model registry finds models by content and refuses anything else."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from proofing.runtime.registry import ModelHashMismatch, ModelNotFound, ModelSpec, Registry
from proofing.settings import Settings


def _registry(tmp_path: Path, content: bytes, models_dir: Path | None) -> Registry:
    spec = ModelSpec(
        name="toy", file="toy.bin", sha256=hashlib.sha256(content).hexdigest(), task="test",
        licence="none", upstream="https://example.invalid/toy.bin",
    )
    return Registry({"toy": spec}, Settings(models_dir=models_dir, data_dir=tmp_path / "data"))


def test_found_by_hash_even_under_another_name(tmp_path: Path) -> None:
    models = tmp_path / "models"
    (models / "sub").mkdir(parents=True)
    (models / "sub" / "renamed.bin").write_bytes(b"weights")
    assert _registry(tmp_path, b"weights", models).resolve("toy") == models / "sub" / "renamed.bin"


def test_wrong_hash_is_refused_naming_both_hashes(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    (models / "toy.bin").write_bytes(b"tampered")
    reg = _registry(tmp_path, b"weights", models)
    with pytest.raises(ModelHashMismatch) as err:
        reg.resolve("toy")
    assert hashlib.sha256(b"weights").hexdigest() in str(err.value)
    assert hashlib.sha256(b"tampered").hexdigest() in str(err.value)


def test_missing_model_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound) as err:
        _registry(tmp_path, b"weights", tmp_path / "nowhere").resolve("toy")
    msg = str(err.value)
    assert "PROOFING_MODELS_DIR" in msg and "proofing models fetch toy" in msg


def test_unknown_name_lists_the_manifest(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFound, match="toy"):
        _registry(tmp_path, b"w", None).resolve("nope")


def test_manifest_entries_match_the_shared_checksums(models_dir: Path) -> None:
    """Every model of the manifest that ../shared/models holds resolves there (the manifest's
    hashes are the upstream files' hashes, independently listed in SHA256SUMS)."""
    sums = {}
    for line in (models_dir / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        sums[digest] = name
    reg = Registry.load(settings=Settings(models_dir=models_dir))
    assert reg.specs
    for name, spec in reg.specs.items():
        if spec.sha256 in sums:
            assert reg.resolve(name).name == Path(sums[spec.sha256]).name
    assert reg.resolve("ocrb").name == "ocrb_int.traineddata"
