"""The bundled-model build: idempotent, and an interrupted build leaves no usable half model."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

import pytest

from foundry_local_chat.models import bundled as bundled_model
from foundry_local_chat.models.bundled import BuildError, build, is_built
from tests.support.processes import REPO, RunningProcess, clean_env, start, with_sigint_ignored

pytestmark = [pytest.mark.e2e, pytest.mark.model, pytest.mark.long]  # builds the model

BUILD_PYTHON = REPO / ".venv-build" / "bin" / "python"
BUILD_COMMAND = [str(BUILD_PYTHON), "-m", "foundry_local_chat.models.build"]


def test_the_installed_bundled_model_passed_its_smoke_check(bundled_model_dir: Path) -> None:
    manifest = json.loads((bundled_model_dir / "build.json").read_text())
    assert "Paris" in manifest["smoke_check"]["answer"]
    assert manifest["precision"] == "int4"
    assert json.loads((bundled_model_dir / "genai_config.json").read_text())["search"][
        "repetition_penalty"
    ] == pytest.approx(bundled_model.REPETITION_PENALTY)


def test_the_installed_model_is_built_with_todays_options(bundled_model_dir: Path) -> None:
    """The speed levers of docs/benchmarks/engine.md are in the model Foundry Local loads."""
    import onnxruntime

    manifest = json.loads((bundled_model_dir / "build.json").read_text())
    assert manifest["build_version"] == bundled_model.BUILD_VERSION
    assert manifest["builder_options"] == bundled_model.BUILDER_OPTIONS
    session = json.loads((bundled_model_dir / "genai_config.json").read_text())["model"]["decoder"][
        "session_options"
    ]
    assert session.items() >= bundled_model.SESSION_OPTIONS.items()
    model = onnxruntime.InferenceSession(
        str(bundled_model_dir / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    [logits] = [output for output in model.get_outputs() if output.name == "logits"]
    # prune_lm_head: a prompt of any length yields the logits of its last position only.
    assert logits.shape[1] == 1, logits.shape


def test_second_build_is_a_no_op(bundled_model_dir: Path) -> None:
    before = (bundled_model_dir / "build.json").stat().st_mtime_ns
    assert build(bundled_model_dir, progress=False) is False
    assert (bundled_model_dir / "build.json").stat().st_mtime_ns == before


def test_a_failing_step_installs_nothing_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_dequantize(gguf_path: Path, hf_dir: Path) -> None:
        hf_dir.mkdir(parents=True)
        (hf_dir / "half-written.bin").write_bytes(b"\0" * 1024)
        raise OSError("disk full")

    monkeypatch.setattr(bundled_model, "dequantize_to_hf", broken_dequantize)
    monkeypatch.setattr(bundled_model, "find_gguf", lambda: tmp_path / "model.gguf")
    model_dir = tmp_path / "models" / "m"
    with pytest.raises(BuildError, match="step 'dequantize GGUF' failed: OSError: disk full"):
        build(model_dir, progress=False)
    assert not model_dir.exists()
    assert list(model_dir.parent.iterdir()) == [model_dir.parent / ".build.lock"]


def start_build(model_dir: Path, sigint_ignored: bool = False) -> RunningProcess:
    command = [*BUILD_COMMAND, "--model-dir", str(model_dir)]
    return start(with_sigint_ignored(command, sigint_ignored), clean_env({}))


def stop_at_step(running: RunningProcess, step: str, signum: signal.Signals) -> None:
    running.wait_for_line(rf"bundled model: {step}", timeout=300)
    running.process.send_signal(signum)
    assert running.process.wait(60) != 0, running.output  # the whole build log, if it went on


def test_ctrl_c_stops_a_background_build_and_leaves_nothing_behind(tmp_path: Path) -> None:
    """Ctrl-C stops the build even when it starts with SIGINT ignored, as a background job of a
    shell script (`make model &`) does. The test sets that disposition itself, so the outcome
    does not depend on how the test run was started."""
    model_dir = tmp_path / "bundled" / "model"
    stop_at_step(start_build(model_dir, sigint_ignored=True), "dequantize GGUF", signal.SIGINT)
    assert not is_built(model_dir)
    assert not model_dir.exists()
    assert [p.name for p in model_dir.parent.iterdir()] == [".build.lock"]


def test_after_a_hard_kill_the_next_build_clears_the_leftover_and_ctrl_c_still_cleans_up(
    tmp_path: Path,
) -> None:
    """kill -9 cannot be caught: the half-done `.partial-*` folder stays, and is never taken for
    a model. The next build removes it before its first step (from there on it is a fresh
    build, as `make model` runs one); Ctrl-C in its longest step, the ONNX builder's own
    subprocess, stops it and leaves nothing behind."""
    model_dir = tmp_path / "bundled" / "model"
    stop_at_step(start_build(model_dir), "dequantize GGUF", signal.SIGKILL)
    assert not is_built(model_dir) and not model_dir.exists()
    [leftover] = [p for p in model_dir.parent.iterdir() if p.name.startswith(".partial-")]

    next_build = start_build(model_dir)
    next_build.wait_for_line(r"bundled model: dequantize GGUF", timeout=300)
    assert not leftover.exists(), next_build.output
    stop_at_step(next_build, "build ONNX int4", signal.SIGINT)
    assert not is_built(model_dir)
    assert [p.name for p in model_dir.parent.iterdir()] == [".build.lock"]


def test_the_command_says_when_the_model_is_already_built(bundled_model_dir: Path) -> None:
    command = [*BUILD_COMMAND, "--quiet"]
    result = subprocess.run(
        [*command, "--model-dir", str(bundled_model_dir)], env=clean_env({}), cwd=REPO,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"already built: {bundled_model_dir}"
