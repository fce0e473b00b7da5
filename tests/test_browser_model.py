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


def test_the_installed_browser_files_passed_their_smoke_checks(bundled_model_dir: Path) -> None:
    manifest = browser_model.read_manifest(bundled_model_dir)
    assert manifest is not None, "run `make model`: it builds the browser files too"
    assert "Paris" in manifest["int8"]["smoke_check"]["answer"]
    assert manifest["digits"]["onnx_accuracy"] >= browser_model.DIGITS_MIN_ACCURACY
    int8 = browser_model.browser_dir(bundled_model_dir) / browser_model.INT8_DIR
    assert (int8 / "model.onnx.data").stat().st_size > 0


def test_second_build_is_a_no_op(bundled_model_dir: Path) -> None:
    manifest = browser_model.browser_dir(bundled_model_dir) / browser_model.MANIFEST
    before = manifest.stat().st_mtime_ns
    assert browser_model.build(bundled_model_dir, progress=False) is False
    assert manifest.stat().st_mtime_ns == before


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


def test_dequantized_weights_are_what_onnxruntime_computes(bundled_model_dir: Path) -> None:
    """One MatMulNBits of the real model, run by onnxruntime on an identity matrix, gives its
    weight: the int8 copy starts from exactly that (build venv: onnx, onnxruntime)."""
    script = textwrap.dedent(f"""
        import json, numpy as np, onnx, onnxruntime
        from onnx import helper, TensorProto
        from foundry_local_chat.models.browser import _dequantize_nbits
        model = onnx.load({str(bundled_model_dir / "model.onnx")!r}, load_external_data=False)
        node = next(n for n in model.graph.node if n.op_type == "MatMulNBits")
        initializers = {{t.name: t for t in model.graph.initializer if t.name in node.input}}
        for tensor in initializers.values():  # read by hand: onnx refuses hard-linked files
            where = {{entry.key: entry.value for entry in tensor.external_data}}
            with open({str(bundled_model_dir)!r} + "/" + where["location"], "rb") as data:
                data.seek(int(where.get("offset", 0)))
                tensor.raw_data = data.read(int(where["length"]))
            tensor.data_location = TensorProto.DEFAULT
            del tensor.external_data[:]
        attributes = {{a.name: helper.get_attribute_value(a) for a in node.attribute}}
        k, n = attributes["K"], attributes["N"]
        single = helper.make_node("MatMulNBits", ["a", *node.input[1:]], ["y"],
            domain="com.microsoft", K=k, N=n, bits=4, block_size=attributes["block_size"])
        graph = helper.make_graph([single], "one",
            [helper.make_tensor_value_info("a", TensorProto.FLOAT, [k, k])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [k, n])],
            list(initializers.values()))
        one = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
            helper.make_opsetid("com.microsoft", 1)])
        session = onnxruntime.InferenceSession(one.SerializeToString())
        (computed,) = session.run(None, {{"a": np.eye(k, dtype=np.float32)}})
        ours = _dequantize_nbits(node, initializers)
        error = float(abs(ours - computed).max())
        print(json.dumps({{"max_error": error, "max_weight": float(abs(computed).max())}}))
    """)
    result = subprocess.run(
        [str(BUILD_PYTHON), "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert figures["max_weight"] > 0
    assert figures["max_error"] <= 1e-6 * figures["max_weight"], figures


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
