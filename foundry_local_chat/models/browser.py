"""Build what the /browser page runs: an int8 copy of the bundled model and a digit classifier.

The bundled int4 model (MatMulNBits) fits a native CPU and WebGPU, but onnxruntime-web's WASM
build has no 4-bit kernel and de-quantizes every weight on every step (~2 tok/s). The WASM copy
made here de-quantizes each MatMulNBits once, to a float MatMul, then quantizes the weights to
int8 per channel (MatMulInteger kernels: ~17 tok/s). The int4 embedding (GatherBlockQuantized) is
kept. Dynamic quantization also rounds each step's activations to 8 bits, and a few channels of
them are far larger than the rest; before quantizing, SmoothQuant moves that range into the
weights (an exact rewrite of the float model, see `smooth_activations`).

The digit classifier is a small MLP trained on scikit-learn's bundled 8x8 digits (no download),
written as a plain ONNX graph (MatMul/Add/Relu/Softmax) with held-out samples.

Runs in the build virtual environment (onnx, onnxruntime, scikit-learn, onnxruntime-genai) after
the bundled model is built; like that build it is idempotent (a finished folder holds
`browser.json`) and visible under its final name only after its smoke checks passed.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from foundry_local_chat.config import DEFAULT_SYSTEM_PROMPT
from foundry_local_chat.errors import one_line
from foundry_local_chat.models.bundled import MANIFEST as BUNDLED_MANIFEST
from foundry_local_chat.models.bundled import (
    SMOKE_PROMPT,
    BuildError,
    build_once,
    smoke_check,
)

MANIFEST = "browser.json"
INT8_DIR = "int8"
DIGITS_DIR = "digits"
DIGITS_MODEL = "digits.onnx"
DIGITS_HELD_OUT = "held_out.json"
DIGITS_MIN_ACCURACY = 0.95
# Files of the bundled model that the int8 copy shares (onnxruntime-genai reads them in the smoke
# check; the page reads the tokenizer and the template).
SHARED_FILES = (
    "genai_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
)
KV_HEAD_SIZE = 64
RECIPE_VERSION = 2  # 2: SmoothQuant before quantizing (top-1 agreement with int4 0.78 → 0.90)
# How much of an activation channel's range moves into the weights (SmoothQuant's alpha): chosen
# by the int8 copy's next-token agreement with the int4 model, teacher-forced over the answers to
# 20 questions (0.78 without smoothing; alpha 0.35: 0.81, 0.6: 0.89, 0.7: 0.90, 0.8: 0.88).
SMOOTHING_ALPHA = 0.7
# Calibration prompts (after the chat's default system prompt): everyday requests, none of them a
# question of bench/bench_browser.py.
CALIBRATION_PROMPTS = (
    "Explain what a black hole is in two sentences.",
    "What does a CPU do? Answer in two sentences.",
    "Explain photosynthesis in one sentence.",
    "What is a Python list? Answer in two sentences.",
    "블랙홀이 무엇인지 두 문장으로 설명해 주세요.",
    "Write a short story about a robot learning to paint.",
    "Explain how a rainbow forms.",
    "Describe the water cycle.",
    "Hello",
    "Write a polite email asking a colleague to move our meeting to Thursday afternoon.",
)
NORMS = {"SimplifiedLayerNormalization": 1, "SkipSimplifiedLayerNormalization": 2}  # gamma input


def browser_dir(model_dir: Path) -> Path:
    """Where the browser files of `model_dir` live: a sibling folder, so that Foundry Local's
    copy of the bundled model does not carry 150 MB it never reads."""
    return model_dir.with_name(model_dir.name + "-browser")


def is_built(model_dir: Path) -> bool:
    """Built, and from the bundled build that is there now (a rebuilt model, e.g. with other
    builder options, gets its browser files made again)."""
    manifest = read_manifest(model_dir)
    return (
        manifest is not None
        and manifest.get("source_build") == source_build(model_dir)
        and manifest.get("recipe_version") == RECIPE_VERSION
    )


def source_build(model_dir: Path) -> str | None:
    """The bundled build's identity: a digest of its manifest (options, versions, smoke check)."""
    path = model_dir / BUNDLED_MANIFEST
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else None


def read_manifest(model_dir: Path) -> dict[str, Any] | None:
    path = browser_dir(model_dir) / MANIFEST
    if not path.is_file():
        return None
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest


# ----- the int8 copy -----


def _dequantize_nbits(node: Any, initializers: dict[str, Any]) -> Any:
    """The float32 [K, N] weight of a MatMulNBits node (4 bits, symmetric: zero point 8)."""
    import numpy as np
    from onnx import helper, numpy_helper

    attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
    if attributes.get("bits") != 4 or len(node.input) != 3:
        raise BuildError(f"{node.name}: only 4-bit MatMulNBits without zero points is handled")
    k, n, block = attributes["K"], attributes["N"], attributes["block_size"]
    packed = numpy_helper.to_array(initializers[node.input[1]])  # [N, blocks, block/2] uint8
    scales = numpy_helper.to_array(initializers[node.input[2]]).astype(np.float32)
    blocks = packed.shape[1]
    values = np.empty((n, blocks, block), dtype=np.int8)
    values[:, :, 0::2] = (packed & 0x0F).astype(np.int8)
    values[:, :, 1::2] = (packed >> 4).astype(np.int8)
    weight = (values.astype(np.float32) - 8.0) * scales.reshape(n, blocks, 1)
    return weight.reshape(n, blocks * block)[:, :k].T.copy()


def dequantize_matmuls(model: Any) -> int:
    """Replace every MatMulNBits of `model` by a float MatMul; returns how many."""
    from onnx import helper, numpy_helper

    graph = model.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    replaced = 0
    for index, node in enumerate(list(graph.node)):
        if node.op_type != "MatMulNBits":
            continue
        weight_name = node.input[1] + ".dequantized"
        graph.initializer.append(
            numpy_helper.from_array(_dequantize_nbits(node, initializers), weight_name)
        )
        matmul = helper.make_node(
            "MatMul", [node.input[0], weight_name], list(node.output), name=node.name + "_fp32"
        )
        graph.node.remove(node)
        graph.node.insert(index, matmul)
        replaced += 1
    used = {name for node in graph.node for name in node.input}
    for tensor in list(graph.initializer):
        if tensor.name not in used:  # the lm_head's int4 weight stays: the embedding reads it
            graph.initializer.remove(tensor)
    return replaced


def fix_kv_cache_dim(model: Any) -> None:
    """Name the KV cache's head size in the graph's inputs (metadata only): runtimes that build
    an empty first cache from the input shapes read an unnamed dimension as 0."""
    for value in model.graph.input:
        if value.name.startswith("past_key_values."):
            dims = value.type.tensor_type.shape.dim
            dims[len(dims) - 1].ClearField("dim_param")
            dims[len(dims) - 1].dim_value = KV_HEAD_SIZE


def weight_matmuls(model: Any) -> list[Any]:
    """The float MatMuls whose second input is a weight (what the int8 copy quantizes)."""
    weights = {tensor.name for tensor in model.graph.initializer}
    return [n for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in weights]


def activation_ranges(model: Any, model_dir: Path, work_dir: Path) -> dict[str, Any]:
    """Each float MatMul input's largest magnitude per channel, over the calibration prompts
    (each rendered with the model's chat template, as a chat sends it)."""
    import numpy as np
    import onnx
    import onnxruntime
    from jinja2 import Template
    from tokenizers import Tokenizer

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = sorted({node.input[0] for node in weight_matmuls(model)})
    for name in names:
        probe.graph.output.append(
            onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None)
        )
    path = work_dir / "probe.onnx"
    onnx.save_model(probe, str(path), save_as_external_data=True, location="probe.onnx.data")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    template = Template((model_dir / "chat_template.jinja").read_text())
    kv_heads = json.loads((model_dir / "genai_config.json").read_text())["model"]["decoder"][
        "num_key_value_heads"
    ]
    empty = {
        value.name: np.zeros([1, kv_heads, 0, KV_HEAD_SIZE], dtype=np.float32)
        for value in model.graph.input
        if value.name.startswith("past_key_values.")
    }
    ranges: dict[str, Any] = {}
    for prompt in CALIBRATION_PROMPTS:
        messages = [
            {"role": "system", "content": DEFAULT_SYSTEM_PROMPT},
            {"role": "user", "content": prompt},
        ]
        text = template.render(messages=messages, add_generation_prompt=True)
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        feed = {
            "input_ids": np.array([ids], dtype=np.int64),
            "attention_mask": np.ones((1, len(ids)), dtype=np.int64),
            **empty,
        }
        for name, value in zip(names, session.run(names, feed), strict=True):
            largest = np.abs(value.reshape(-1, value.shape[-1])).max(axis=0)
            ranges[name] = np.maximum(ranges[name], largest) if name in ranges else largest
    return ranges


def smooth_activations(model: Any, ranges: dict[str, Any], alpha: float = SMOOTHING_ALPHA) -> int:
    """SmoothQuant (Xiao et al., 2023): for the MatMuls reading one activation, divide its
    channel j by s_j = range_j^alpha / weight_range_j^(1 - alpha) where it is made, and multiply
    row j of their weights by s_j. The float model computes the same; its activations have a
    smaller range for int8. Where the division is made: the gamma of the RMS norm before q/k/v
    and before gate/up, and the up projection's columns before down (SwiGLU multiplies them in).
    The attention output (o_proj) and the final norm (lm_head, whose agreement got worse) are
    left as they are. Returns how many activations were smoothed."""
    import numpy as np
    from onnx import numpy_helper

    graph = model.graph
    initializers = {tensor.name: tensor for tensor in graph.initializer}
    producers = {output: node for node in graph.node for output in node.output}
    readers: dict[str, list[Any]] = {}
    for node in weight_matmuls(model):
        readers.setdefault(node.input[0], []).append(node)

    def array(name: str) -> Any:
        return numpy_helper.to_array(initializers[name]).astype(np.float32)

    def replace(name: str, value: Any) -> None:
        initializers[name].CopyFrom(numpy_helper.from_array(value.astype(np.float32), name))

    smoothed = 0
    for activation, matmuls in readers.items():
        producer = producers.get(activation)
        if producer is None:
            continue
        weight_range = np.max([np.abs(array(m.input[1])).max(axis=1) for m in matmuls], axis=0)
        scale = np.clip(ranges[activation], 1e-5, None) ** alpha
        scale = np.clip(scale / np.clip(weight_range, 1e-5, None) ** (1 - alpha), 1e-2, 1e2)
        if producer.op_type in NORMS:
            gamma = producer.input[NORMS[producer.op_type]]
            replace(gamma, array(gamma) / scale)
        elif producer.op_type == "Mul" and producer.name.endswith("mlp/Mul"):
            [up] = [
                producers[name] for name in producer.input
                if name in producers and producers[name].op_type == "MatMul"
            ]  # fmt: skip
            replace(up.input[1], array(up.input[1]) / scale[None, :])
        else:
            continue
        for matmul in matmuls:
            replace(matmul.input[1], array(matmul.input[1]) * scale[:, None])
        smoothed += 1
    return smoothed


def build_int8(model_dir: Path, out_dir: Path, work_dir: Path) -> int:
    """Write the int8 copy of `model_dir` into `out_dir`; returns how many MatMuls it has."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # A copy: onnx refuses external data with several hard links (Foundry Local's cache links
    # the bundled files), as a guard against hard-link attacks.
    source = work_dir / "int4"
    source.mkdir()
    for name in ("model.onnx", "model.onnx.data"):
        shutil.copyfile(model_dir / name, source / name)
    model = onnx.load(str(source / "model.onnx"))
    replaced = dequantize_matmuls(model)
    if replaced == 0:
        raise BuildError(f"{model_dir / 'model.onnx'} has no MatMulNBits node to convert")
    fix_kv_cache_dim(model)
    if smooth_activations(model, activation_ranges(model, model_dir, work_dir)) == 0:
        raise BuildError(f"{model_dir / 'model.onnx'}: no activation to smooth was found")
    float_model = work_dir / "float.onnx"
    onnx.save_model(model, str(float_model), save_as_external_data=True, location="float.onnx.data")
    out_dir.mkdir(parents=True)
    quantize_dynamic(
        float_model,
        out_dir / "model.onnx",
        per_channel=True,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul"],
        use_external_data_format=True,
        extra_options={"MatMulConstBOnly": True},
    )
    if not (out_dir / "model.onnx.data").is_file():
        raise BuildError(f"the quantizer wrote no {out_dir / 'model.onnx.data'}")
    for name in SHARED_FILES:
        if (model_dir / name).is_file():
            shutil.copy2(model_dir / name, out_dir / name)
    return replaced


# ----- the digit classifier -----


def train_digits(out_dir: Path) -> dict[str, float]:
    """Train the 64→64→10 MLP, write its ONNX graph and the held-out digits; returns accuracy."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import MLPClassifier

    digits = load_digits()  # bundled with scikit-learn: 1797 8x8 images, values 0..16
    x = digits.data.astype(np.float32) / 16.0
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.2, random_state=0, stratify=digits.target
    )
    mlp = MLPClassifier(hidden_layer_sizes=(64,), max_iter=600, random_state=0)
    mlp.fit(x_train, y_train)
    w1, w2 = (w.astype(np.float32) for w in mlp.coefs_)
    b1, b2 = (b.astype(np.float32) for b in mlp.intercepts_)
    nodes = [
        helper.make_node("MatMul", ["pixels", "w1"], ["h1"]),
        helper.make_node("Add", ["h1", "b1"], ["h2"]),
        helper.make_node("Relu", ["h2"], ["h3"]),
        helper.make_node("MatMul", ["h3", "w2"], ["h4"]),
        helper.make_node("Add", ["h4", "b2"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes,
        "digits",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 64])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 10])],
        [
            numpy_helper.from_array(a, n)
            for a, n in ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"))
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    out_dir.mkdir(parents=True)
    onnx.save_model(model, str(out_dir / DIGITS_MODEL))
    held_out = [
        {"pixels": [int(v * 16 + 0.5) for v in row], "label": int(label)}
        for row, label in zip(x_test, y_test, strict=True)
    ]
    (out_dir / DIGITS_HELD_OUT).write_text(json.dumps(held_out))
    return {"sklearn_accuracy": round(float(mlp.score(x_test, y_test)), 4)}


def smoke_check_digits(out_dir: Path) -> float:
    """Held-out accuracy of the ONNX graph itself, through onnxruntime."""
    import numpy as np
    import onnxruntime

    session = onnxruntime.InferenceSession(str(out_dir / DIGITS_MODEL))
    held_out = json.loads((out_dir / DIGITS_HELD_OUT).read_text())
    pixels = np.array([sample["pixels"] for sample in held_out], dtype=np.float32) / 16.0
    labels = np.array([sample["label"] for sample in held_out])
    (probabilities,) = session.run(None, {"pixels": pixels})
    accuracy = float((probabilities.argmax(axis=1) == labels).mean())
    if accuracy < DIGITS_MIN_ACCURACY:
        raise BuildError(
            f"digit smoke check failed: held-out accuracy {accuracy:.3f} < {DIGITS_MIN_ACCURACY}"
        )
    return round(accuracy, 4)


# ----- the build -----


def _step(name: str, progress: bool, work: Any) -> Any:
    if progress:
        print(f"browser model: {name}…", file=sys.stderr)
    try:
        return work()
    except BuildError:
        raise
    except Exception as error:  # onnx/onnxruntime/scikit-learn raise many kinds
        raise BuildError(f"step '{name}' failed: {one_line(error, with_type=True)}") from error


def build(model_dir: Path, progress: bool = True) -> bool:
    """Build the browser files of the (built) bundled model. Returns False when already built."""
    return build_once(
        browser_dir(model_dir), ".build-browser.lock", ".partial-browser-",
        lambda: is_built(model_dir), lambda partial: _build_in(model_dir, partial, progress),
    )  # fmt: skip


def _build_in(model_dir: Path, partial: Path, progress: bool) -> Path:
    """Run the steps in `partial`; returns the finished folder (not yet installed)."""
    started = time.monotonic()
    finished = partial / "out"
    finished.mkdir()
    matmuls = _step(
        "int8 copy for WASM",
        progress,
        lambda: build_int8(model_dir, finished / INT8_DIR, partial),
    )
    answer = _step(
        "int8 smoke check",
        progress,
        lambda: smoke_check(finished / INT8_DIR, "the int8 copy", "int8 smoke check"),
    )
    digits = _step("digit classifier", progress, lambda: train_digits(finished / DIGITS_DIR))
    accuracy = _step(
        "digit smoke check", progress, lambda: smoke_check_digits(finished / DIGITS_DIR)
    )
    manifest = {
        "source": model_dir.name,
        "source_build": source_build(model_dir),
        "recipe_version": RECIPE_VERSION,
        "int8": {
            "matmuls": matmuls,
            "recipe": "MatMulNBits de-quantized, SmoothQuant (alpha "
            f"{SMOOTHING_ALPHA}), dynamic int8 per channel, int4 embedding",
            "smoke_check": {"prompt": SMOKE_PROMPT, "answer": answer},
        },
        "digits": {**digits, "onnx_accuracy": accuracy},
        "build_seconds": round(time.monotonic() - started, 1),
    }
    (finished / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return finished
