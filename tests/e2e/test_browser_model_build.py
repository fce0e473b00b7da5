"""The /browser page's model build, on the real bundled model: its smoke checks, a second build
that does nothing, weights that match onnxruntime's."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

from foundry_local_chat.models import browser as browser_model
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
