"""Foundry Local Chat: everything that is not a Chainlit handler.

A folder is a layer, and a layer imports only the layers below it (`make lint` checks this with
lint-imports, pyproject.toml's [tool.importlinter] contracts):

    server     the Chainlit server's parts and the state the handlers share
    ui         what a person reads: the chat view, texts (English, Korean), the /browser page
    answers    answers being written: live, checkpointed, abandoned, interrupted
    history    sign-in, the Chainlit data layer, who owns which rows
    documents  a file's text, its passages, the store, what goes into a request
    chat       one turn without Chainlit: backends, context window, loop guard, answer queue
    models     Foundry Local's runtime, the served models, the bundled and browser builds
    endpoint | storage   the public OpenAI-compatible endpoint | the history database

The modules beside this file (config, errors, origins, log_format, request_ids, readiness,
text_repair) are the base every layer may use, and import no layer. This package must stay
importable without a running Chainlit server, and `config` and `models.bundled` must import
with the standard library alone (the model build runs in its own virtual environment).
"""
