"""Foundry Local Chat: everything that is not a Chainlit handler.

Modules import one way: config → bundled_model / foundry_runtime → backend → chat → chat_ui;
foundry_runtime → gateway (the public endpoint) → endpoint_routes / request_schema /
request_rules / admission_queue → openai_errors; and for
sign-in and history config → auth / database → persistence.
`make lint` checks the layers (lint-imports, pyproject.toml's [tool.importlinter] contracts).
This package must stay importable without a running Chainlit server, and
`config` and `bundled_model` must import with the standard library alone (the
model build runs in its own virtual environment).
"""
