"""`python -m foundry_local_chat.models.build` (`make model`): build the offline default model, then
the /browser page's files from it.

The one entry point of both builds: `models.bundled` builds the model and `models.browser` its
browser copy from it, so the copy's module imports the model's and never the other way round.
Runs in the build virtual environment; both builds are idempotent and safe to interrupt.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from foundry_local_chat.config import Settings
from foundry_local_chat.errors import FoundryLocalChatError
from foundry_local_chat.models import browser as browser_model
from foundry_local_chat.models import bundled as bundled_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m foundry_local_chat.models.build",
        description="Build the offline default model (SmolLM2-135M-Instruct, ONNX int4 CPU).",
    )
    parser.add_argument(
        "--model-dir",
        type=Path,
        help="output folder, for the model alone (default: from MODEL_CACHE_DIR, with the "
        "/browser page's files)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    # Ctrl-C stops the build however it was started: a background job of a shell without job
    # control starts with SIGINT ignored, and Python then installs no KeyboardInterrupt for it.
    # The builder subprocess inherits the default action (exec resets a handled signal).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        model_dir = args.model_dir or Settings.from_env().bundled_model_dir
        built = bundled_model.build(model_dir, progress=not args.quiet)
        if args.model_dir is None:  # the app's own model: the /browser page's files too
            browser_model.build(model_dir, progress=not args.quiet)
    except FoundryLocalChatError as error:  # BuildError, ConfigError
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{'built' if built else 'already built'}: {model_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
