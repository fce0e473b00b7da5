"""The whole app through the socket.io path a browser uses, against the real bundled model."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from tests.support.apps import AppFactory
from tests.support.chainlit_client import ChainlitSession
from tests.support.processes import clean_env, free_port, start_chainlit
from tests.support.recording_proxy import RecordingProxy

LONG_PROMPT = "Write a long, detailed story about a lighthouse keeper and a storm."


async def test_answer_streams_token_by_token_from_foundry_local(chainlit_app: AppFactory) -> None:
    url = chainlit_app(LOOP_GUARD="0")  # the final answer is compared with all that streamed
    async with ChainlitSession(url) as chat:
        assert await chat.ready() is None
        welcome = (await chat.welcome())["Foundry Local"]
        assert "**Foundry Local** · `http://127.0.0.1:" in welcome
        assert "/v1` · `smollm2-135m-instruct-generic-cpu:1`" in welcome

        first = await chat.ask("What is the capital of France?")
        assert len(first.tokens) >= 2
        answer = first.answer()["output"]
        assert answer == first.streamed_text
        assert "Paris" in answer

        second = await chat.ask("And of Italy?")
        assert len(second.tokens) >= 2
        assert second.answer()["id"] != first.answer()["id"]
        # The endpoint kept the first turn: the second read only its question.
        assert re.search(r"read \d+ · reused 0 tokens", first.stats()["summary"])
        reuse = re.search(r"read (\d+) · reused ([\d,]+) tokens", second.stats()["summary"])
        assert reuse is not None, second.stats()["summary"]
        generated = re.search(r"· (\d+) tokens ·", first.stats()["summary"])
        assert generated is not None
        if int(generated[1]) < 512:  # the first answer ended by itself: it stays read
            assert int(reuse[1]) < 30 and int(reuse[2].replace(",", "")) > 30
        else:  # cut at MAX_TOKENS: the engine dropped its cache and reads everything once
            assert int(reuse[2].replace(",", "")) == 0


async def test_second_turn_carries_the_first(
    chainlit_app: AppFactory, proxy: RecordingProxy
) -> None:
    url = chainlit_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url, SYSTEM_PROMPT="Be brief.")
    async with ChainlitSession(url) as chat:
        assert await chat.ready() is None
        first = await chat.ask("My name is Ada.")
        await chat.ask("What is my name?")

    requests = proxy.chat_requests()
    assert len(requests) == 2
    assert requests[1].body is not None
    assert requests[1].body["stream"] is True
    assert requests[1].body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "My name is Ada."},
        {"role": "assistant", "content": first.answer()["output"]},
        {"role": "user", "content": "What is my name?"},
    ]


async def test_chainlit_ci_mode_does_not_replace_the_api_key(
    chainlit_app: AppFactory, proxy: RecordingProxy
) -> None:
    # CI=true makes `chainlit run` set OPENAI_API_KEY to a fake key in the app's process.
    url = chainlit_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url, API_KEY="sk-operator", CI="true")
    async with ChainlitSession(url) as chat:
        assert await chat.ready() is None
        answer = await chat.ask("Say hello.")
        assert answer.answer()["output"]
    [request] = proxy.chat_requests()
    assert request.authorization == "Bearer sk-operator"


async def test_stop_ends_the_answer_keeps_it_and_closes_the_request(
    chainlit_app: AppFactory, proxy: RecordingProxy
) -> None:
    url = chainlit_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url, MAX_TOKENS="1000")
    async with ChainlitSession(url) as chat:
        await chat.ready()
        await chat.send(LONG_PROMPT)
        await chat.wait_for("task_start")
        started = await chat.wait_for("stream_start")
        for _ in range(3):
            await chat.wait_for("stream_token")
        await chat.stop()
        await chat.wait_for("task_end")
        kept = [
            event[1]
            for event in chat.history
            if event[0] == "new_message" and event[1]["id"] == started["id"]
        ]
        streamed = "".join(data["token"] for name, data in chat.history if name == "stream_token")

    assert kept, "the partial answer was not kept as a message"
    assert kept[-1]["output"] == started["output"] + streamed
    assert kept[-1]["metadata"]["stopped"] is True
    request = proxy.chat_requests()[-1]
    await asyncio.wait_for(request.finished.wait(), 30)
    assert request.client_closed_early, "the app did not close the streaming request on stop"


async def test_two_sessions_do_not_see_each_other(
    chainlit_app: AppFactory, proxy: RecordingProxy
) -> None:
    url = chainlit_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url)
    async with ChainlitSession(url) as alice, ChainlitSession(url) as bob:
        await asyncio.gather(alice.ready(), bob.ready())
        await asyncio.gather(alice.ask("I am Alice. Say hello."), bob.ask("I am Bob. Say hi."))
        await asyncio.gather(alice.ask("Who am I?"), bob.ask("Who am I?"))
        alice_seen = str(alice.history)
        bob_seen = str(bob.history)

    assert "I am Alice" in alice_seen and "I am Bob" not in alice_seen
    assert "I am Bob" in bob_seen and "I am Alice" not in bob_seen
    second_turns = [r.body for r in proxy.chat_requests() if r.body and len(r.body["messages"]) > 2]
    assert len(second_turns) == 2
    for body in second_turns:
        users = [m["content"] for m in body["messages"] if m["role"] == "user"]
        assert users[0] in {"I am Alice. Say hello.", "I am Bob. Say hi."}
        assert not ({"I am Alice. Say hello.", "I am Bob. Say hi."} <= set(users))


async def test_error_mid_stream_keeps_the_partial_answer_and_says_so(
    chainlit_app: AppFactory, proxy: RecordingProxy
) -> None:
    proxy.fail_after_events = 6
    url = chainlit_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url)
    async with ChainlitSession(url) as chat:
        await chat.ready()
        reply = await chat.ask(LONG_PROMPT)
    answer = reply.answer()["output"]
    partial, _, error_line = answer.partition("\n\n⚠️ ")
    assert len(reply.tokens) >= 3
    assert partial and partial == reply.streamed_text.partition("\n\n⚠️ ")[0]
    assert (
        error_line
        == "The answer was cut short: the model server reported an error: injected failure."
    )


async def test_an_instance_that_stops_leaves_the_chats_of_another_alone(
    chainlit_app: AppFactory, proxy: RecordingProxy, tmp_path: Path
) -> None:
    """Two instances from one checkout (scale-out on one machine): Chainlit deletes its files
    folder when it stops, and that must not be the folder the other instance's chats use."""
    async with ChainlitSession(
        chainlit_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url, MAX_TOKENS="16")
    ) as chat:
        assert await chat.ready() is None
        port = free_port()
        env = clean_env(
            {"FOUNDRY_LOCAL": "0", "BASE_URL": proxy.url, "APP_DATA_DIR": str(tmp_path)}
        )
        start_chainlit(env, port).stop()
        reply = await chat.ask("What is the capital of France?")
    assert reply.stats()["summary"]  # its element was written to the files folder


async def test_a_long_prompt_is_read_with_progress_in_the_chat(chainlit_app: AppFactory) -> None:
    url = chainlit_app(LOOP_GUARD="0")
    notes = " ".join(f"Note {i}: garden {i} has {i % 7 + 2} apples." for i in range(1, 200))
    async with ChainlitSession(url) as chat:
        assert await chat.ready() is None
        reply = await chat.ask(f"{notes}\n\nHow many apples does garden 7 have?")
        said = [m for m in reply.of("new_message") if m["output"].startswith("⏳ Reading")]
        assert said, "no word while the prompt was read"
        assert re.fullmatch(
            r"⏳ Reading [\d,]+ tokens of the conversation… about \d+ s", said[0]["output"]
        )
        # It is gone once the answer streams: the notice is removed, the answer stays.
        assert said[0]["id"] in {m["id"] for m in reply.of("delete_message")}
        assert reply.answer()["output"]
        assert re.search(r"read [\d,]{4,} · reused 0 tokens", reply.stats()["summary"])
