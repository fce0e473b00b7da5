"""Honest about a tiny model, through `chainlit run` and the bundled model: the welcome screen says
what it can do (in a Korean browser: that it writes no Korean, and how to switch), every starter
it is offered gets a sensible answer, and an answer that loops is stopped, its request closed.
The same in-process against a scripted model: tests/unit/app/test_handlers.py."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import aiohttp
import pytest

from foundry_local_chat.models.facts import KOREAN_MODEL_EXAMPLE
from foundry_local_chat.ui.chat_view import APP_AUTHOR
from foundry_local_chat.ui.texts import (
    ENGLISH,
    ENGLISH_STARTERS_IN_KOREAN,
    KOREAN,
    KOREAN_TO_A_MODEL_WITHOUT_KOREAN,
    STARTERS,
    WORDS,
    language_of,
)
from tests.support.apps import AppFactory
from tests.support.chainlit_client import ChainlitSession, Reply
from tests.support.degeneration import NON_DEGENERATE, distinct_trigram_share, loop_start
from tests.support.recording_proxy import RecordingProxy

LOOPING_QUESTION = "파이썬에서 리스트를 정렬하는 방법은?"  # the issue's: greedy, the model loops


async def project_settings(url: str, language: str) -> dict[str, Any]:
    """What the browser fetches before the chat opens: profiles (with their starters)."""
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{url}/project/settings?language={language}") as response,
    ):
        response.raise_for_status()
        return await response.json()


def offered_starters(project: dict[str, Any]) -> list[tuple[str, str]]:
    [profile] = project["chatProfiles"]  # without BASE_URL: Foundry Local only
    from_profile = [(s["label"], s["message"]) for s in profile["starters"]]
    assert from_profile == [(s["label"], s["message"]) for s in project["starters"]]
    return from_profile


def notices(reply: Reply) -> list[str]:
    return [m["output"] for m in reply.of("new_message") if m.get("name") == APP_AUTHOR]


async def test_the_welcome_says_what_the_bundled_model_can_do(chainlit_app: AppFactory) -> None:
    url = chainlit_app()
    korean = await project_settings(url, "ko-KR")
    english = await project_settings(url, "en-US")

    [korean_welcome] = [p["markdown_description"] for p in korean["chatProfiles"]]
    assert WORDS[KOREAN].bundled_model_can in korean_welcome
    assert WORDS[KOREAN].model_writes_no_korean.format(model=KOREAN_MODEL_EXAMPLE) in korean_welcome
    assert offered_starters(korean) == ENGLISH_STARTERS_IN_KOREAN
    [english_welcome] = [p["markdown_description"] for p in english["chatProfiles"]]
    assert WORDS[ENGLISH].bundled_model_can in english_welcome
    assert "Korean" not in english_welcome
    assert offered_starters(english) == STARTERS[ENGLISH]


@pytest.mark.parametrize("language", ["en-US", "ko-KR"])
async def test_every_starter_offered_with_the_bundled_model_gets_a_sensible_answer(
    chainlit_app: AppFactory, language: str
) -> None:
    url = chainlit_app(TEMPERATURE="0")  # greedy: the same answers on every run
    offered = offered_starters(await project_settings(url, language))
    assert len(offered) == 4
    for label, message in offered:
        async with ChainlitSession(url, language=language) as chat:
            assert await chat.ready() is None
            reply = await chat.ask(message)
        answer = reply.answer()["output"]
        assert notices(reply) == [], (label, notices(reply))  # no loop was stopped
        assert len(answer.split()) >= 5, (label, answer)
        assert distinct_trigram_share(answer) >= NON_DEGENERATE, (label, answer)
        if language_of(language) == KOREAN:
            assert re.search(r"[\uac00-\ud7a3]", label) and message.isascii()


async def test_the_bundled_models_loop_is_stopped_and_its_request_closed(
    chainlit_app: AppFactory, proxy: RecordingProxy
) -> None:
    url = chainlit_app(FOUNDRY_LOCAL="0", BASE_URL=proxy.url, TEMPERATURE="0")
    async with ChainlitSession(url, language="ko-KR") as chat:
        await chat.ready()
        reply = await chat.ask(LOOPING_QUESTION)

    # A Korean question to a model that reads no Korean: the chat says so, in Korean, with what
    # to do (offline too), and the loop notice says why instead of blaming the question.
    assert notices(reply) == [
        KOREAN_TO_A_MODEL_WITHOUT_KOREAN.format(
            model=reply.answer()["metadata"]["reply_model"], example=KOREAN_MODEL_EXAMPLE
        ),
        WORDS[KOREAN].loop_stopped_no_korean,
    ]
    answer = reply.answer()["output"]
    streamed = reply.streamed_text
    assert streamed.startswith(answer) and len(answer) < len(streamed)  # kept up to the loop
    tokens = int(re.search(r"(\d+)토큰", reply.stats()["summary"])[1])
    assert tokens < 150, reply.stats()["summary"]  # of 512
    request = proxy.chat_requests()[-1]
    await asyncio.wait_for(request.finished.wait(), 30)
    assert request.client_closed_early, "the request went on after the loop was found"


async def test_with_the_guard_off_the_same_loop_runs_to_the_token_limit(
    chainlit_app: AppFactory, proxy: RecordingProxy
) -> None:
    url = chainlit_app(
        FOUNDRY_LOCAL="0", BASE_URL=proxy.url, TEMPERATURE="0", LOOP_GUARD="0", MAX_TOKENS="256"
    )  # the guard stops this loop within 150 tokens (above)
    async with ChainlitSession(url) as chat:
        await chat.ready()
        reply = await chat.ask(LOOPING_QUESTION)
    model = reply.answer()["metadata"]["reply_model"]  # the Korean notice, and no loop notice
    said = KOREAN_TO_A_MODEL_WITHOUT_KOREAN.format(model=model, example=KOREAN_MODEL_EXAMPLE)
    assert notices(reply) == [said]
    assert " 256 tokens" in reply.stats()["summary"]
    answer = reply.answer()["output"]
    assert loop_start(answer, ran_to_the_limit=True) is not None, answer  # it looped
