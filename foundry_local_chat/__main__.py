"""Command line of the package.

python -m foundry_local_chat serve              only the model endpoint
python -m foundry_local_chat users add NAME     add a user (or set a new password)
python -m foundry_local_chat users remove NAME  / users list
python -m foundry_local_chat db upgrade         create or migrate the history schema
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from dotenv import load_dotenv

from foundry_local_chat import log_format
from foundry_local_chat.config import ConfigError, Settings
from foundry_local_chat.history import auth
from foundry_local_chat.models.foundry_runtime import FoundryRuntime, FoundryStartError
from foundry_local_chat.models.progress import terminal_progress
from foundry_local_chat.storage import database


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
        parts.append(
            "browser origins allowed: " + ", ".join(map(str, settings.endpoint_cors_origins))
        )
    return "; ".join(parts)


def serve(settings: Settings) -> int:
    runtime = FoundryRuntime(settings)
    try:
        endpoint = runtime.start(terminal_progress(settings.log_format))
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


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != password:
        raise auth.AuthError("the two passwords differ.")
    return password


def users(settings: Settings, args: argparse.Namespace) -> int:
    path = auth.Access.from_settings(settings).users_file
    try:
        if args.action == "add":
            is_new = auth.set_password(path, args.name, read_password(args.password_stdin))
            print(f"{'added' if is_new else 'changed the password of'} {args.name} in {path}")
            if is_new and len(auth.read_users(path)) == 1:
                print("The first user turns sign-in and history on: restart the app.")
        elif args.action == "remove":
            if not auth.remove_user(path, args.name):
                print(f"error: {args.name} is not a user in {path}", file=sys.stderr)
                return 1
            print(f"removed {args.name} from {path}")
        else:
            for name in sorted(auth.read_users(path)):
                print(name)
    except auth.AuthError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def db(settings: Settings, args: argparse.Namespace) -> int:
    try:
        if args.action == "copy":
            source = Settings.from_env({"DATABASE_URL": args.source}).database_url
            copied = asyncio.run(database.copy_history(source, settings.database_url))
            counts = ", ".join(f"{count} {table}" for table, count in copied.items())
            print(f"copied {counts} into {settings.database_url_redacted}")
            return 0
        version = database.prepare(settings.database_url)
    except (database.DatabaseError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"{settings.database_url_redacted}: schema version {version}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m foundry_local_chat")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "serve",
        help="run only the Foundry Local endpoint (for Open WebUI and several app instances)",
        description="Serve MODEL through Foundry Local at FOUNDRY_ENDPOINT_URL until interrupted.",
    )
    users_parser = commands.add_parser(
        "users",
        help="password users (USERS_FILE, default <APP_DATA_DIR>/users; Argon2 hashes only)",
    )
    users_actions = users_parser.add_subparsers(dest="action", required=True)
    for action, text in (("add", "add a user, or set a new password"), ("remove", "remove")):
        action_parser = users_actions.add_parser(action, help=text)
        action_parser.add_argument("name")
        if action == "add":
            action_parser.add_argument(
                "--password-stdin", action="store_true", help="read the password from stdin"
            )
    users_actions.add_parser("list", help="list user names")
    db_parser = commands.add_parser("db", help="the chat history database (DATABASE_URL)")
    db_actions = db_parser.add_subparsers(dest="action", required=True)
    db_actions.add_parser("upgrade", help="create the schema, or migrate it to this version")
    copy_parser = db_actions.add_parser(
        "copy", help="copy all history from another database into DATABASE_URL (empty)"
    )
    copy_parser.add_argument("source", help="e.g. sqlite+aiosqlite:////old/machine/chat.db")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # The same .env file the app reads (Chainlit's CHAINLIT_ENV_FILE); the environment wins.
    load_dotenv(Path.cwd() / os.getenv("CHAINLIT_ENV_FILE", ".env"))
    try:
        settings = Settings.from_env()
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    log_format.configure(settings.log_format)
    if args.command == "serve":
        return serve(settings)
    if args.command == "users":
        return users(settings, args)
    if args.command == "db":
        return db(settings, args)
    return 2


if __name__ == "__main__":
    sys.exit(main())
