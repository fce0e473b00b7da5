"""Command line: `python -m foundry_local_chat serve` runs only the model endpoint."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from dotenv import load_dotenv

from foundry_local_chat.config import ConfigError, Settings
from foundry_local_chat.foundry_runtime import FoundryRuntime, FoundryStartError
from foundry_local_chat.progress import terminal_progress


def access_summary(settings: Settings) -> str:
    """Who can reach the endpoint: network, API key, browser origins."""
    address = settings.endpoint_address
    parts = [
        "reachable from this machine only"
        if address.is_loopback
        else f"listening on {address.host}: other machines can reach it",
        "API key required (ENDPOINT_API_KEY)" if settings.endpoint_api_key else "any API key works",
    ]
    if settings.endpoint_cors_origins:
        parts.append("browser origins allowed: " + ", ".join(settings.endpoint_cors_origins))
    return "; ".join(parts)


def serve(settings: Settings) -> int:
    runtime = FoundryRuntime(settings)
    try:
        endpoint = runtime.start(terminal_progress())
    except FoundryStartError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(
        f"Foundry Local endpoint: {endpoint.url}  model: {endpoint.model_id} "
        f"(alias {endpoint.model_alias})",
        flush=True,
    )
    print(access_summary(settings), flush=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    runtime.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m foundry_local_chat")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "serve",
        help="run only the Foundry Local endpoint (for Open WebUI and several app instances)",
        description="Serve MODEL through Foundry Local at FOUNDRY_ENDPOINT_URL until interrupted.",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # The same .env file the app reads (Chainlit's CHAINLIT_ENV_FILE); the environment wins.
    load_dotenv(Path.cwd() / os.getenv("CHAINLIT_ENV_FILE", ".env"))
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return serve(settings)
    return 2


if __name__ == "__main__":
    sys.exit(main())
