"""Build a variant of the bundled model with other options into its own MODEL_CACHE_DIR, so that
bench/bench_engine.py can measure it (`--variant LABEL=DIR`) beside the default build without
touching the default cache. Runs in the build virtual environment:

    .venv-build/bin/python -m bench.build_variant DIR [--builder KEY=VALUE ...]
        [--session KEY=JSON ...] [--dequantized HF_DIR]

`--builder` replaces the bundled build's model builder options, `--session` its ONNX Runtime
session options (values are JSON: `intra_op_num_threads=2`, `config_entries={"...": "0"}`);
`--dequantized` reuses a Hugging Face folder made from the same GGUF (saves the slowest step).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from foundry_local_chat.config import Settings
from foundry_local_chat.models.bundled import BuildOptions, build, dequantize_to_hf, find_gguf


def key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not key or not sep:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def session_value(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return text  # a plain string such as ORT_ENABLE_ALL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache_dir", type=Path, help="the variant's MODEL_CACHE_DIR")
    parser.add_argument("--builder", type=key_value, action="append", default=None)
    parser.add_argument("--session", type=key_value, action="append", default=None)
    parser.add_argument("--dequantized", type=Path, help="a dequantized Hugging Face folder")
    args = parser.parse_args()
    if args.dequantized and not (args.dequantized / "config.json").is_file():
        dequantize_to_hf(find_gguf(), args.dequantized)
    defaults = BuildOptions()
    options = BuildOptions(
        builder=dict(args.builder) if args.builder is not None else defaults.builder,
        session=(
            {key: session_value(value) for key, value in args.session}
            if args.session is not None
            else defaults.session
        ),
        dequantized=args.dequantized,
    )
    model_dir = Settings.from_env({"MODEL_CACHE_DIR": str(args.cache_dir)}).bundled_model_dir
    built = build(model_dir, progress=False, options=options)
    print(f"{'built' if built else 'already built'}: {model_dir} {options}")


if __name__ == "__main__":
    main()
