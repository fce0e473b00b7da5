"""Where prefill time goes: ONNX Runtime's profiler on the bundled model (or a variant) for one
long prompt (the engine bench's), run through onnxruntime-genai directly. Writes the top operators
and nodes by time to docs/benchmarks/<name>.md. Runs in the build virtual environment:

    .venv-build/bin/python -m bench.profile_prefill [--model-dir DIR] [--name engine-profile]
"""

from __future__ import annotations

import argparse
import collections
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.engine_prompts import SHORT_PROMPTS, long_prompt
from bench.report import table, write_report
from foundry_local_chat.config import Settings

TOP = 12


def profiled_copy(model_dir: Path, work: Path) -> Path:
    """The model folder with profiling switched on in a copy of its genai_config.json (the model
    files are linked, not copied)."""
    copy = work / "model"
    copy.mkdir()
    for source in model_dir.iterdir():
        (copy / source.name).symlink_to(source)
    (copy / "genai_config.json").unlink()
    config = json.loads((model_dir / "genai_config.json").read_text())
    config["model"]["decoder"]["session_options"]["enable_profiling"] = str(work / "ort-profile")
    (copy / "genai_config.json").write_text(json.dumps(config))
    return copy


def prefill(model_dir: Path, prompt: str) -> tuple[int, float]:
    """Prompt tokens and seconds to the first generated token (one greedy step)."""
    import onnxruntime_genai as og

    model = og.Model(str(model_dir))
    tokenizer = og.Tokenizer(model)
    text = tokenizer.apply_chat_template(
        json.dumps([{"role": "user", "content": prompt}]), add_generation_prompt=True
    )
    tokens = tokenizer.encode(text)
    params = og.GeneratorParams(model)
    params.set_search_options(do_sample=False, max_length=len(tokens) + 1)
    generator = og.Generator(model, params)
    started = time.perf_counter()
    generator.append_tokens(tokens)
    generator.generate_next_token()
    seconds = time.perf_counter() - started
    del generator, model
    return len(tokens), seconds


def top_by_time(trace: list[dict[str, Any]], key: str) -> list[tuple[str, float, int]]:
    totals: collections.Counter[str] = collections.Counter()
    counts: collections.Counter[str] = collections.Counter()
    for event in trace:
        if event.get("cat") == "Node" and event.get("name", "").endswith("_kernel_time"):
            name = (
                event["args"]["op_name"] if key == "op" else event["name"][: -len("_kernel_time")]
            )
            totals[name] += event["dur"]
            counts[name] += 1
    return [(name, micros / 1000, counts[name]) for name, micros in totals.most_common(TOP)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, default=Settings.from_env().bundled_model_dir)
    parser.add_argument("--name", default="engine-profile")
    args = parser.parse_args()
    sections = []
    for label, prompt in (("long prompt", long_prompt()), ("short prompt", SHORT_PROMPTS[0])):
        work = Path(tempfile.mkdtemp(prefix="profile-"))
        try:
            tokens, seconds = prefill(profiled_copy(args.model_dir, work), prompt)
            [trace_file] = work.glob("ort-profile*.json")
            trace = json.loads(trace_file.read_text())
        finally:
            shutil.rmtree(work, ignore_errors=True)
        total = sum(
            e["dur"] for e in trace if e.get("cat") == "Node" and e["name"].endswith("_kernel_time")
        )
        ops = table(
            ["operator", "time", "share of kernel time", "calls"],
            [
                [op, f"{ms:.1f} ms", f"{ms * 1000 / total:.0%}", n]
                for op, ms, n in top_by_time(trace, "op")
            ],
        )
        nodes = table(
            ["node", "time", "calls"],
            [[f"`{node}`", f"{ms:.1f} ms", n] for node, ms, n in top_by_time(trace, "node")],
        )
        sections.append(
            f"## {label}: {tokens} tokens, first token after {seconds:.2f} s (profiling on)\n\n"
            f"Kernel time in all: {total / 1000:.0f} ms. Top operators:\n\n{ops}\n\n"
            f"Top nodes:\n\n{nodes}\n"
        )
    manifest = json.loads((args.model_dir / "build.json").read_text())
    options = {**manifest.get("builder_options", {}), **manifest.get("session_options", {})}
    body = (
        f"Model folder `{args.model_dir.name}`, options {options or 'builder defaults'}; "
        "one prefill and the first generated token, through onnxruntime-genai with "
        "ONNX Runtime's profiler on.\n\n" + "\n".join(sections)
    )
    print(body)
    report = write_report(args.name, "Where prefill time goes (ONNX Runtime profile)", body)
    print(f"written: {report}")


if __name__ == "__main__":
    main()
