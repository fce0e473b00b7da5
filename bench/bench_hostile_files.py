"""Benchmark: what one user's hostile files cost another user, through the real app.

Starts `chainlit run app.py` (sign-in on, the bundled model through Foundry Local in-process,
the default limits but DOCUMENT_READERS_PER_USER=8), then times Bob's sign-in (POST /login:
an Argon2 check in asyncio's default pool) and a short answer, first on a quiet app, then while
Alice has eight PDFs of 40 slow pages each (tests/support/pdf_maker.py) taken in, in eight
chats: two read at once in worker processes, six waiting. Medians over the rounds.

    .venv/bin/python -m bench.bench_hostile_files [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from bench.report import table, write_report
from tests.support.chainlit_client import ChainlitApi, ChainlitSession
from tests.support.pdf_maker import operator_flood_pdf
from tests.support.processes import add_user, clean_env, free_port, start_chainlit

PASSWORD = "correct horse battery"


async def bob(url: str, rounds: int) -> tuple[float, float]:
    sign_in, answer = [], []
    for _ in range(rounds):
        api = ChainlitApi(url)
        start = time.perf_counter()
        await api.sign_in("bob", PASSWORD)
        sign_in.append(time.perf_counter() - start)
        async with ChainlitSession(url, api.token) as chat:
            await chat.ready()
            start = time.perf_counter()
            await chat.ask("What is the capital of France?")
            answer.append(time.perf_counter() - start)
    return statistics.median(sign_in), statistics.median(answer)


async def main(rounds: int) -> None:
    with TemporaryDirectory() as folder:
        users = Path(folder) / "users"
        for name in ("alice", "bob"):
            add_user(users, name, PASSWORD)
        port = free_port()
        env = clean_env({
            "FOUNDRY_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "FOUNDRY_OFFLINE": "1",
            "APP_DATA_DIR": folder, "USERS_FILE": str(users), "MAX_TOKENS": "16",
            "LOOP_GUARD": "0", "DOCUMENT_READERS_PER_USER": "8",
        })  # fmt: skip
        app = start_chainlit(env, port)
        url = f"http://127.0.0.1:{port}"
        try:
            await bob(url, 1)  # warm-up: the model's first answer
            quiet = await bob(url, rounds)
            alice = ChainlitApi(url)
            await alice.sign_in("alice", PASSWORD)
            slow = operator_flood_pdf(1, pages=40)
            async with contextlib.AsyncExitStack() as chats:
                for number in range(8):
                    chat = await chats.enter_async_context(ChainlitSession(url, alice.token))
                    await chat.ready()
                    file = await chat.upload(f"slow{number}.pdf", slow, "application/pdf")
                    await chat.send("", [file])
                    await chat.wait_for("new_message", lambda m: m["output"].startswith("Read"))
                busy = await bob(url, rounds)
        finally:
            app.stop()
    rows = [
        ["quiet app", f"{quiet[0] * 1000:.0f}", f"{quiet[1] * 1000:.0f}"],
        ["8 hostile PDFs being taken in", f"{busy[0] * 1000:.0f}", f"{busy[1] * 1000:.0f}"],
    ]
    figures = table(["while", "Bob's sign-in, ms", "Bob's answer (16 tokens), ms"], rows)
    print(figures)
    path = write_report(
        "hostile_files",
        "Another user's hostile files",
        f"Medians of {rounds} rounds, the bundled model answering in the app:\n\n{figures}",
    )
    print(f"wrote {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args().rounds))
