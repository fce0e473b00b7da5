"""Settings, stats, non-streaming, edit and stop, and Auto routing, over the socket.io path."""

from __future__ import annotations

import asyncio

import pytest

from foundry_local_chat.config import BUNDLED_MODEL_ID
from foundry_local_chat.ui.texts import KOREAN, WORDS
from tests.support.apps import AppFactory, shared_proxy
from tests.support.chainlit_client import ChainlitSession
from tests.support.recording_proxy import RecordingProxy

LONG_PROMPT = "Write a long, detailed story about a lighthouse keeper and a storm."

# The tests share each app they start (by its settings) and one proxy, reset for each test.
proxy = pytest.fixture(shared_proxy)


async def test_the_settings_panel_offers_the_served_models(module_app: AppFactory) -> None:
    async with ChainlitSession(module_app()) as chat:
        await chat.ready()
        panel = next(data for name, data in chat.history if name == "chat_settings")
    widgets = {widget["id"]: widget for widget in panel}
    assert widgets["model"]["items"] == [{"label": BUNDLED_MODEL_ID, "value": BUNDLED_MODEL_ID}]
    assert widgets["model"]["initial"] == BUNDLED_MODEL_ID
    assert set(widgets) == {"model", "system_prompt", "temperature", "max_tokens", "streaming"}


async def test_changed_settings_shape_the_next_request(
    module_app: AppFactory, proxy: RecordingProxy
) -> None:
    async with ChainlitSession(module_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url)) as chat:
        await chat.ready()
        await chat.ask("Hello")
        await chat.change_settings({
            "model": BUNDLED_MODEL_ID, "system_prompt": "Answer in French.",
            "temperature": 1.2, "max_tokens": 48, "streaming": True,
        })  # fmt: skip
        await chat.ask("Hello again")
    before, after = (r.body for r in proxy.chat_requests())
    assert before is not None and after is not None
    assert before["temperature"] == 0.3 and before["max_tokens"] == 512
    assert after["temperature"] == 1.2 and after["max_tokens"] == 48
    assert after["messages"][0] == {"role": "system", "content": "Answer in French."}


async def test_invalid_settings_are_refused_with_a_clear_message(
    module_app: AppFactory, proxy: RecordingProxy
) -> None:
    async with ChainlitSession(module_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url)) as chat:
        await chat.ready()
        await chat.change_settings({"model": "vanished-model:1", "temperature": 9})
        await chat.ask("Still there?")
        refusal = next(
            data
            for name, data in chat.history
            if name == "new_message" and data["output"].startswith("**Settings not applied:**")
        )
    assert "'vanished-model:1' is no longer served" in refusal["output"]
    assert "Temperature 9 is outside 0–2" in refusal["output"]
    body = proxy.chat_requests()[-1].body
    assert body is not None and body["model"] == BUNDLED_MODEL_ID and body["temperature"] == 0.3


async def test_a_korean_browser_hears_the_app_in_korean(
    module_app: AppFactory, proxy: RecordingProxy
) -> None:
    korean = WORDS[KOREAN]
    url = module_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url)
    async with ChainlitSession(url, language="ko-KR") as chat:
        await chat.ready()
        panel = next(data for name, data in chat.history if name == "chat_settings")
        await chat.change_settings({"temperature": 9})
        # An English question: the bundled model writes no Korean and may loop on one (then the
        # loop guard adds its own notice); what is checked here is the app's Korean.
        reply = await chat.ask("What is the capital of France?")
    labels = [widget["label"] for widget in panel]
    assert labels == [korean.model, korean.system_prompt, korean.temperature,
                      korean.max_tokens, korean.stream_the_answer]  # fmt: skip
    [refusal] = [
        data["output"]
        for name, data in chat.history
        if name == "new_message"
        and data["name"] == "Foundry Local Chat"
        and data["output"].startswith("**설정이 적용되지 않았습니다:**")
    ]
    assert refusal.startswith("**설정이 적용되지 않았습니다:** 온도 값 9: 0–2 범위를")
    stats = reply.stats()
    assert stats["summary"].startswith("첫 토큰 ") and "토큰 · " in stats["summary"]
    assert " tok/s" not in stats["summary"] and " s · " not in stats["summary"]
    assert stats["title"] == "BASE_URL에서 답변"


async def test_each_answer_shows_its_speed(module_app: AppFactory) -> None:
    async with ChainlitSession(module_app()) as chat:
        await chat.ready()
        reply = await chat.ask("What is the capital of France?")
    stats = reply.stats()
    assert stats["backend"] == "Foundry Local" and stats["stopped"] is False
    summary = stats["summary"]
    assert summary.startswith("first token ") and " ms · " in summary and " tok/s · " in summary
    assert " s · context " in summary  # how full the model's context is
    assert summary.endswith(f"% · {BUNDLED_MODEL_ID}")


async def test_streaming_off_answers_in_one_piece_and_says_how_long_it_took(
    module_app: AppFactory, proxy: RecordingProxy
) -> None:
    async with ChainlitSession(module_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url)) as chat:
        await chat.ready()
        await chat.change_settings({"streaming": False})
        reply = await chat.ask("What is the capital of France?")
    assert reply.tokens == [] and reply.of("stream_start") == []
    assert "Paris" in reply.answer()["output"]
    assert reply.stats()["summary"].startswith("not streamed: waited ")
    body = proxy.chat_requests()[-1].body
    assert body is not None and "stream" not in body


async def test_a_server_that_cannot_stream_is_asked_again_without_streaming(
    module_app: AppFactory, proxy: RecordingProxy
) -> None:
    proxy.reject_streaming = True
    async with ChainlitSession(module_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url)) as chat:
        await chat.ready()
        reply = await chat.ask("What is the capital of France?")
    assert "Paris" in reply.answer()["output"]
    assert reply.stats()["summary"].startswith("not streamed")
    streamed, plain = (r.body for r in proxy.chat_requests())
    assert streamed is not None and streamed["stream"] is True
    assert plain is not None and "stream" not in plain


async def test_stop_marks_the_kept_answer_as_stopped(module_app: AppFactory) -> None:
    async with ChainlitSession(module_app(MAX_TOKENS="1000")) as chat:
        await chat.ready()
        await chat.send(LONG_PROMPT)
        await chat.wait_for("stream_start")
        await chat.wait_for("stream_token")
        await chat.stop()
        stats = await chat.wait_for("element", lambda e: e["name"] == "AnswerStats")
    assert stats["props"]["stopped"] is True
    assert stats["props"]["summary"].startswith("stopped · first token")


async def test_an_edit_regenerates_from_the_edited_message_and_can_be_stopped(
    module_app: AppFactory, proxy: RecordingProxy
) -> None:
    url = module_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url, MAX_TOKENS="1000")
    proxy.max_tokens_cap = 32  # the first two answers are only context
    async with ChainlitSession(url) as chat:
        await chat.ready()
        first_id = await chat.send("Name a colour.")
        await chat.collect_reply()
        await chat.ask("Name another one.")
        proxy.max_tokens_cap = None  # the regenerated answer is long enough to be stopped
        await chat.edit(first_id, LONG_PROMPT)
        await chat.wait_for("stream_start")
        await chat.wait_for("stream_token")
        await chat.stop()
        await chat.wait_for("task_end")
    edited = proxy.chat_requests()[-1]
    assert edited.body is not None
    assert [m["content"] for m in edited.body["messages"] if m["role"] != "system"] == [LONG_PROMPT]
    await asyncio.wait_for(edited.finished.wait(), 30)
    assert edited.client_closed_early, "stop did not end the regenerated answer"


async def test_auto_profile_sends_long_prompts_to_the_remote_and_short_ones_local(
    module_app: AppFactory, proxy: RecordingProxy
) -> None:
    url = module_app(BASE_URL=proxy.url, AUTO_REMOTE_PROMPT_CHARS="40")
    async with ChainlitSession(url, chat_profile="Auto") as chat:
        assert await chat.ready() is None
        short = await chat.ask("Hi!")
        long = await chat.ask("Please tell me, in a few words, what the capital of France is.")
    assert short.stats()["backend"] == "Foundry Local"
    assert long.stats()["backend"] == "BASE_URL"
    assert len(proxy.chat_requests()) == 1


async def test_a_reasoning_models_thinking_goes_into_its_own_step(
    module_app: AppFactory, proxy: RecordingProxy
) -> None:
    proxy.thinking_deltas = ["<thi", "nk>The user wants", " a capital.</think>"]
    async with ChainlitSession(module_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url)) as chat:
        await chat.ready()
        reply = await chat.ask("What is the capital of France?")
    thinking = [m for m in reply.final_messages if m["name"] == "Thinking"]
    assert [m["output"] for m in reply.of("update_message") if m["name"] == "Thinking"] == [
        "The user wants a capital."
    ]
    assert thinking and thinking[0]["type"] == "tool"
    answer = reply.answer()["output"]
    assert "think>" not in answer and "The user wants" not in answer and "Paris" in answer


async def test_a_new_chat_opens_when_its_server_does_not_list_its_models(
    module_app: AppFactory, proxy: RecordingProxy
) -> None:
    url = module_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url, MAX_TOKENS="8")
    async with ChainlitSession(url) as chat:  # the app has chosen BASE_URL: it listed its models
        await chat.ready()
    proxy.hold_requests = lambda body: body is None  # a GET (the model list) is never answered
    try:
        async with ChainlitSession(url) as chat:
            # Its settings panel, not a failure notice, and not after the client's read
            # timeout (120 s): the list is given up on after a few seconds.
            assert await chat.ready(timeout=60) is None
            panel = next(data for name, data in chat.history if name == "chat_settings")
            reply = await chat.ask("Name a colour.")
    finally:
        proxy.release_requests.set()
    models = {widget["id"]: widget for widget in panel}["model"]["items"]
    assert models == [{"label": BUNDLED_MODEL_ID, "value": BUNDLED_MODEL_ID}]
    assert reply.answer()["output"], "the chat answers all the same"
