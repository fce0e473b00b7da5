"""The browser files' build (models/browser.py): checked, idempotent, faithful to the int4 model."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from foundry_local_chat.models import browser as browser_model
from foundry_local_chat.models.bundled import BuildError
from tests.support.processes import REPO

BUILD_PYTHON = REPO / ".venv-build" / "bin" / "python"


def test_a_failing_step_installs_nothing_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_dir = tmp_path / "bundled" / "model"
    model_dir.mkdir(parents=True)

    def broken(*args: object) -> int:
        raise ValueError("no such graph")

    monkeypatch.setattr(browser_model, "build_int8", broken)
    with pytest.raises(BuildError, match=r"int8 copy for WASM.*no such graph"):
        browser_model.build(model_dir, progress=False)
    assert not browser_model.browser_dir(model_dir).exists()
    assert list(model_dir.parent.glob(".partial-browser-*")) == []


def test_browser_files_of_an_earlier_bundled_build_or_recipe_count_as_not_built(
    tmp_path: Path,
) -> None:
    """A rebuilt bundled model (other builder options), or a changed recipe for the browser
    copy, gets the browser files made again."""
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "build.json").write_text('{"build_version": 1}')
    files = browser_model.browser_dir(model_dir)
    files.mkdir()
    manifest = {
        "source_build": browser_model.source_build(model_dir),
        "recipe_version": browser_model.RECIPE_VERSION,
    }
    (files / browser_model.MANIFEST).write_text(json.dumps(manifest))
    assert browser_model.is_built(model_dir)
    (files / browser_model.MANIFEST).write_text(json.dumps({**manifest, "recipe_version": 1}))
    assert not browser_model.is_built(model_dir)
    (files / browser_model.MANIFEST).write_text(json.dumps(manifest))
    (model_dir / "build.json").write_text('{"build_version": 2}')
    assert not browser_model.is_built(model_dir)


def test_smoothing_leaves_what_the_float_model_computes_unchanged() -> None:
    """SmoothQuant's rewrite is exact in float: an RMS norm feeding two projections, and a
    SwiGLU product feeding the down projection, give the same outputs before and after, while
    the activation with an outlier channel gets a smaller range (build venv)."""
    script = textwrap.dedent("""
        import json, numpy as np, onnx, onnxruntime
        from onnx import helper, numpy_helper, TensorProto
        from foundry_local_chat.models.browser import smooth_activations
        rng = np.random.default_rng(0)
        d, f = 8, 12
        weights = {"gamma": rng.uniform(0.5, 2, d), "w_qkv": rng.normal(size=(d, 6)),
                   "w_gate": rng.normal(size=(d, f)), "w_up": rng.normal(size=(d, f)),
                   "w_down": rng.normal(size=(f, d))}
        weights["gamma"][3] = 40.0  # an outlier channel, as real models have
        nodes = [
            helper.make_node("SimplifiedLayerNormalization", ["x", "gamma"], ["normed"],
                             name="/model/layers.0/input_layernorm", axis=-1, epsilon=1e-5),
            helper.make_node("MatMul", ["normed", "w_qkv"], ["qkv"]),
            helper.make_node("MatMul", ["normed", "w_gate"], ["gate"]),
            helper.make_node("MatMul", ["normed", "w_up"], ["up"]),
            helper.make_node("Sigmoid", ["gate"], ["sig"]),
            helper.make_node("Mul", ["gate", "sig"], ["act"], name="/model/layers.0/mlp/act"),
            helper.make_node("Mul", ["act", "up"], ["mixed"], name="/model/layers.0/mlp/Mul"),
            helper.make_node("MatMul", ["mixed", "w_down"], ["out"]),
        ]
        graph = helper.make_graph(nodes, "block",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 5, d])],
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("qkv", "out")],
            [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        x = rng.normal(size=(1, 5, d)).astype(np.float32)
        def run(m, names=("qkv", "out")):
            return onnxruntime.InferenceSession(m.SerializeToString()).run(list(names), {"x": x})
        def ranges(m):
            probe = onnx.ModelProto(); probe.CopyFrom(m)
            names = ("normed", "mixed")
            for name in names:
                probe.graph.output.append(
                    helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
            values = run(probe, names)
            return {n: np.abs(v.reshape(-1, v.shape[-1])).max(0) for n, v in zip(names, values)}
        before, measured = run(model), ranges(model)
        smoothed = smooth_activations(model, measured)
        after, measured_after = run(model), ranges(model)
        print(json.dumps({
            "smoothed": smoothed,
            "error": max(float(abs(a - b).max() / abs(a).max()) for a, b in zip(before, after)),
            "range_before": float(measured["normed"].max() / measured["normed"].min()),
            "range_after": float(measured_after["normed"].max() / measured_after["normed"].min()),
        }))
    """)
    result = subprocess.run(
        [str(BUILD_PYTHON), "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["smoothed"] == 2, figures  # the norm's readers and the down projection
    assert figures["error"] < 1e-5, figures
    assert figures["range_after"] < figures["range_before"] / 2, figures
