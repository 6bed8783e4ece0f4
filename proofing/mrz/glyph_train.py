"""Build the MRZ glyph classifier (:mod:`proofing.mrz.glyphs`) from the synthetic corpus.

Cells are cut the way the reader cuts them: the synthetic capture is located, read once by
tesseract, fitted to its slots, and every slot's cell is labelled with the character the
generator printed there (only readings that already agree with the truth on 90% of the
characters, so the slots are the right ones). Each cell is also cut a little left and
right of its centre, so the model forgives slot positions that are off by a tenth of a
pitch. The network is a two-layer MLP trained with Adam in numpy (no training framework
to install) and written as ONNX.

The training corpus uses its own seed (1000 by default); the benchmark's seeds (0 and the
held-out 1-3) are never trained on.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np

from proofing.mrz.glyphs import ALPHABET, CELL_H, CELL_W, cut_cells, text_rows
from proofing.mrz.locate import locate_mrz, looks_upside_down, rotate_candidate
from proofing.mrz.ocr import OcrResult, ocr_block, resolve_engine
from proofing.mrz.synth import make_sample

TRAIN_SEED = 1000
#: Slot-centre shifts (in pitches) each cell is also cut at.
JITTER = (-0.12, 0.12)
MIN_AGREEMENT = 0.9


@dataclass
class Cells:
    x: np.ndarray  # (n, CELL_H * CELL_W) float32
    y: np.ndarray  # (n,) class index
    ocr: np.ndarray  # (n,) class index tesseract read (its fitted text), for comparison


def collect(seed: int, n_images: int, *, jitter: bool = True,
            progress: Callable[[int, int], None] | None = None) -> Cells:
    """Labelled cells from ``n_images`` synthetic captures of ``seed``."""
    from proofing.mrz.reader import _fit, _load, pick_lines

    engine = resolve_engine()
    xs: list[np.ndarray] = []
    ys: list[int] = []
    ocrs: list[int] = []
    for i in range(n_images):
        if progress:
            progress(i, n_images)
        sample = make_sample(seed, i)
        truth = list(sample.lines)
        candidates = locate_mrz(_load(sample.image()))
        if not candidates:
            continue
        cand = candidates[0]
        if looks_upside_down(cand.crop):
            cand = rotate_candidate(cand)
        for c in (cand, rotate_candidate(cand)):
            ocr: OcrResult = ocr_block(c.crop, engine)
            picked = pick_lines(ocr.lines, c.n_lines)
            if picked is None:
                continue
            texts, _, _, slots = _fit(picked, c.crop)
            if slots is None or [len(t) for t in texts] != [len(t) for t in truth]:
                continue
            agree = np.mean([a == b for t, u in zip(texts, truth, strict=True) for a, b in zip(t, u, strict=True)])
            if agree < MIN_AGREEMENT:
                continue
            for ln, text, want, centres in zip(picked, texts, truth, slots.centres, strict=True):
                if centres is None:
                    continue
                rows = text_rows(c.crop, ln.top, ln.bottom, min(centres) - slots.pitch, max(centres) + slots.pitch)
                shifts = (0.0, *JITTER) if jitter else (0.0,)
                for s in shifts:
                    xs.append(cut_cells(c.crop, rows, [x + s * slots.pitch for x in centres], slots.pitch))
                    ys += [ALPHABET.index(ch) for ch in want]
                    ocrs += [ALPHABET.index(ch) for ch in text]
            break
    if not xs:
        raise RuntimeError("no usable synthetic readings (is tesseract with the OCR-B model installed?)")
    return Cells(np.concatenate(xs), np.asarray(ys), np.asarray(ocrs))


def train_mlp(x: np.ndarray, y: np.ndarray, *, hidden: tuple[int, ...] = (256, 128), epochs: int = 8,
              lr: float = 2e-3, batch: int = 256, seed: int = 0, l2: float = 1e-5,
              log: Callable[[str], None] | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Softmax MLP with ReLU, Adam, learning rate decayed by 0.8 per epoch; returns the
    (weight, bias) of every layer."""
    rng = np.random.default_rng(seed)
    sizes = [x.shape[1], *hidden, len(ALPHABET)]
    ws = [rng.normal(0, np.sqrt(2 / a), (a, b)).astype(np.float32) for a, b in zip(sizes, sizes[1:], strict=False)]
    bs = [np.zeros(b, np.float32) for b in sizes[1:]]
    params = ws + bs
    m: list[np.ndarray] = [np.zeros_like(p) for p in params]
    v: list[np.ndarray] = [np.zeros_like(p) for p in params]
    step = 0
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        loss = 0.0
        for i in range(0, len(x), batch):
            idx = order[i : i + batch]
            acts = [x[idx]]
            for w, b in zip(ws[:-1], bs[:-1], strict=True):
                acts.append(np.maximum(acts[-1] @ w + b, 0))
            p = _softmax(acts[-1] @ ws[-1] + bs[-1])
            rows = np.arange(len(idx))
            loss += float(-np.log(p[rows, y[idx]] + 1e-9).sum())
            g = p
            g[rows, y[idx]] -= 1
            g /= len(idx)
            grads_w: list[np.ndarray] = [np.empty(0)] * len(ws)
            grads_b: list[np.ndarray] = [np.empty(0)] * len(bs)
            for k in range(len(ws) - 1, -1, -1):
                grads_w[k] = acts[k].T @ g + l2 * ws[k]
                grads_b[k] = g.sum(axis=0)
                if k:
                    g = (g @ ws[k].T) * (acts[k] > 0)
            step += 1
            for j, (param, grad) in enumerate(zip(params, grads_w + grads_b, strict=True)):
                m[j] = 0.9 * m[j] + 0.1 * grad
                v[j] = 0.999 * v[j] + 0.001 * grad * grad
                param -= lr * (m[j] / (1 - 0.9**step)) / (np.sqrt(v[j] / (1 - 0.999**step)) + 1e-8)
        lr *= 0.8
        if log:
            log(f"epoch {epoch + 1}/{epochs}: loss {loss / len(x):.5f}")
    return list(zip(ws, bs, strict=True))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def to_onnx(layers: list[tuple[np.ndarray, np.ndarray]]) -> bytes:
    """The MLP as an ONNX graph: cells [N, CELL_H*CELL_W] -> probabilities [N, 37]."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []
    prev = "cells"
    for k, (w, b) in enumerate(layers):
        inits += [numpy_helper.from_array(w, f"w{k}"), numpy_helper.from_array(b, f"b{k}")]
        out = f"z{k}"
        nodes.append(helper.make_node("Gemm", [prev, f"w{k}", f"b{k}"], [out]))
        if k < len(layers) - 1:
            nodes.append(helper.make_node("Relu", [out], [f"a{k}"]))
            prev = f"a{k}"
        else:
            nodes.append(helper.make_node("Softmax", [out], ["probs"], axis=1))
    graph = helper.make_graph(
        nodes, "mrz_glyphs",
        [helper.make_tensor_value_info("cells", TensorProto.FLOAT, ["n", CELL_H * CELL_W])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["n", len(ALPHABET)])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="proofing")
    model.doc_string = f"MRZ glyph classifier over {ALPHABET!r}"
    onnx.checker.check_model(model)
    return model.SerializeToString()


def build(out_model: Path, out_record: Path, *, images: int = 800, heldout: int = 100, seed: int = TRAIN_SEED,
          epochs: int = 8, log: Callable[[str], None] | None = None) -> dict[str, object]:
    """Collect, train, export and measure; writes the model and its record, returns the record."""
    say = log or (lambda _m: None)
    t0 = time.perf_counter()
    step = max(1, images // 10)

    def progress(i: int, n: int) -> None:
        if i % step == 0:
            say(f"reading synthetic captures: {i}/{n}")

    train = collect(seed, images, progress=progress)
    test = collect(seed + 1, heldout, jitter=False) if heldout else None
    collect_s = time.perf_counter() - t0
    say(f"{len(train.y)} training cells from {images} captures ({collect_s:.0f} s); training")
    layers = train_mlp(train.x, train.y, epochs=epochs, log=say)
    blob = to_onnx(layers)
    out_model.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_model.with_suffix(".tmp")
    tmp.write_bytes(blob)
    tmp.replace(out_model)
    record: dict[str, object] = {
        "model": out_model.name,
        "sha256": hashlib.sha256(blob).hexdigest(),
        "built": datetime.now(UTC).isoformat(timespec="seconds"),
        "corpus": {"generator": "proofing.mrz.synth", "seed": seed, "images": images, "cells": int(len(train.y)),
                   "jitter_pitches": list(JITTER)},
        "network": {"input": [CELL_H, CELL_W], "hidden": [int(w.shape[1]) for w, _ in layers[:-1]],
                    "epochs": epochs, "optimiser": "adam, lr 2e-3 x 0.8 per epoch"},
        "versions": {"numpy": np.__version__, "onnx": metadata.version("onnx")},
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if test is not None and len(test.y):
        probs = _run(out_model, test.x)
        pred = probs.argmax(axis=1)
        record["heldout"] = {
            "seed": seed + 1, "images": heldout, "cells": int(len(test.y)),
            "accuracy": round(float(np.mean(pred == test.y)), 5),
            "tesseract_accuracy": round(float(np.mean(test.ocr == test.y)), 5),
            "both_wrong": int(np.sum((pred != test.y) & (test.ocr != test.y))),
        }
    out_record.write_text(json.dumps(record, indent=2) + "\n")
    return record


def _run(path: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {"cells": x.astype(np.float32)})[0])
