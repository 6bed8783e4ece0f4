"""Precision variants: float blocks for the int8 search, recipes from the manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def test_float_blocks_cover_every_node_once(models_dir: Path) -> None:
    from proofing.runtime import default_registry
    from proofing.runtime.variants import clean_fp32, float_blocks

    model = clean_fp32(default_registry().resolve("sface"))
    blocks = float_blocks(model)
    names = [n.name for n in model.graph.node]  # type: ignore[attr-defined]
    assert sorted(sum(blocks, [])) == sorted(names)
    # Input scaling first, then one block per convolution / Gemm with what follows it.
    assert [n.op_type for n in model.graph.node][:2] == ["Sub", "Mul"]  # type: ignore[attr-defined]
    assert blocks[0] == names[:2]
    assert all(b[0].startswith(("conv_", "pre_fc")) for b in blocks[1:])


def test_variant_built_with_another_recipe_is_refused(models_dir: Path, data_dir: Path) -> None:
    from proofing.runtime import ModelNotFound, Registry
    from proofing.runtime.variants import _paths, recipe
    from proofing.settings import get_settings

    reg = Registry.load(settings=get_settings())
    wanted = recipe(reg, "sface", "int8")
    if wanted is None:
        pytest.skip("the manifest has no int8 recipe for sface")
    model_path, record_path = _paths("sface", "int8", reg)
    model_path.parent.mkdir(parents=True)
    model_path.write_bytes(b"stale")
    record = {
        "source_sha256": reg.spec("sface").sha256,
        "sha256": "0" * 64,
        "builder": {"kept_in_float": ["not", "the", "recipe"]},
    }
    record_path.write_text(json.dumps(record))
    from proofing.runtime.variants import load_built_variant

    with pytest.raises(ModelNotFound, match="recipe"):
        load_built_variant("sface", "int8", reg)
