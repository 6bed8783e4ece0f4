"""The precision setting picks the variant that runs, and results name it exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from proofing.settings import Settings


def test_setting_parses_into_a_per_model_choice(tmp_path: Path) -> None:
    from proofing.face.compare import FaceOptions
    from proofing.runtime.onnx import variant_choice

    # A data dir with no built variants: the manifest's default_variant does not apply.
    s = Settings(model_variants="sface=int8, yunet_dynamic=fp16", data_dir=tmp_path)
    assert variant_choice(s) == {"sface": "int8", "yunet_dynamic": "fp16"}
    opts = FaceOptions.from_settings(s)
    assert opts.embed.variant == "int8"
    assert opts.detect.variant == "fp16"
    assert opts.ensemble_variant == "fp32"  # no second detector by default
    every = FaceOptions.from_settings(Settings(model_variants="*=fp16,sface=fp32", data_dir=tmp_path))
    assert (every.detect.variant, every.second_variant, every.embed.variant) == ("fp16", "fp16", "fp32")
    assert FaceOptions.from_settings(Settings(data_dir=tmp_path)).embed.variant == "fp32"


@pytest.mark.parametrize("bad", ["sface=int4", "sface", "=int8"])
def test_malformed_setting_is_an_error_not_fp32(bad: str) -> None:
    from proofing.runtime.onnx import variant_choice

    with pytest.raises(ValueError):
        variant_choice(Settings(model_variants=bad))


def test_environment_setting_reaches_the_face_stage(
    models_dir: Path, data_dir: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PROOFING_MODEL_VARIANTS alone (no options passed) decides which bytes embed, and the
    result reports that variant's name and full sha256 (the one in its build record)."""
    import numpy as np

    from proofing.face.compare import compare_faces
    from proofing.runtime import default_registry
    from proofing.runtime.onnx import clear_sessions
    from proofing.runtime.variants import build_variant

    rec = build_variant("sface", "fp16", default_registry())
    clear_sessions()
    monkeypatch.setenv("PROOFING_MODEL_VARIANTS", "sface=fp16")
    try:
        nl = shared_data / "emrtd/specimens/nl_specimen_2006/DG2_face_extracted.jp2"
        r = compare_faces(nl, shared_data / "mrz/images/98_pass-nld.jpg")
        d = r.to_dict()
        assert d["models"]["embedder"].startswith(f"sface:fp16:{rec.sha256[:12]}")
        assert d["model_files"]["embedder"] == {"name": "sface", "variant": "fp16", "sha256": rec.sha256}
        assert d["model_files"]["detector"]["variant"] == "fp32"
        assert r.similarity is not None and np.isfinite(r.similarity)
        assert "THRESHOLD_NOT_CALIBRATED_FOR_MODEL" in r.reason_codes  # the policy names fp32
    finally:
        clear_sessions()


def test_int8_without_the_manifest_equalisation_is_refused(models_dir: Path, data_dir: Path) -> None:
    """An int8 file built before (or without) the manifest's channel equalisation and bias
    correction is rebuilt, not run; with the same recipe in its record it loads."""
    import json

    from proofing.runtime import ModelNotFound, Registry
    from proofing.runtime.registry import sha256_of
    from proofing.runtime.variants import _paths, equalization, load_built_variant, recipe
    from proofing.settings import get_settings

    reg = Registry.load(settings=get_settings())
    wanted = equalization(reg, "sface", "int8")
    if not wanted:
        pytest.skip("the manifest names no equalisation for sface int8")
    model_path, record_path = _paths("sface", "int8", reg)
    model_path.parent.mkdir(parents=True)
    model_path.write_bytes(b"int8 bytes")
    builder = {"kept_in_float": recipe(reg, "sface", "int8") or [], "equalization_recipe": {}}
    record = {
        "source_sha256": reg.spec("sface").sha256,
        "sha256": sha256_of(model_path),
        "builder": builder,
    }
    record_path.write_text(json.dumps(record))
    with pytest.raises(ModelNotFound, match="equalisation"):
        load_built_variant("sface", "int8", reg)
    builder["equalization_recipe"] = wanted
    record_path.write_text(json.dumps(record))
    assert load_built_variant("sface", "int8", reg) == model_path


def test_manifest_default_variant_runs_where_built_within_budget(
    models_dir: Path, tmp_path: Path
) -> None:
    """With no setting, a model runs its manifest ``default_variant`` once that variant is
    built here and its build met the agreement budget; such a variant inherits the fp32
    thresholds (its threshold key names the fp32 source), one outside the budget does not."""
    import json
    from dataclasses import replace

    import numpy as np

    from proofing.runtime import Registry
    from proofing.runtime.onnx import clear_sessions, get_session, inherited_version, variant_choice
    from proofing.runtime.variants import _paths, build_variant

    settings = Settings(models_dir=models_dir, data_dir=tmp_path / "data")
    base = Registry.load(settings=settings)
    spec = base.spec("sface")
    reg = Registry(
        {"sface": replace(spec, extra={**spec.extra, "default_variant": "fp16"})}, settings
    )
    assert variant_choice(settings, reg) == {}  # not built: fp32
    rng = np.random.default_rng(0)
    holdout = [rng.uniform(0, 255, (1, 3, 112, 112)).astype(np.float32) for _ in range(4)]
    rec = build_variant("sface", "fp16", reg, holdout=holdout)
    assert rec.measured["meets_min_cosine"] is True
    assert variant_choice(settings, reg) == {"sface": "fp16"}
    assert variant_choice(replace(settings, model_variants="sface=fp32"), reg) == {"sface": "fp32"}
    assert variant_choice(replace(settings, model_variants="*=fp32"), reg) == {"*": "fp32"}
    try:
        session = get_session("sface", "fp16", registry=reg)
        assert session.version.startswith(f"sface:fp16:{rec.sha256[:12]}")
        assert inherited_version(session, reg) == f"sface:fp32:{spec.sha256[:12]}"
        record_path = _paths("sface", "fp16", reg)[1]
        record = json.loads(record_path.read_text())
        record["measured"]["meets_min_cosine"] = False
        record_path.write_text(json.dumps(record))
        assert variant_choice(settings, reg) == {}
        assert inherited_version(session, reg) == session.version
    finally:
        clear_sessions()
