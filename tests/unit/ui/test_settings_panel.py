"""The settings panel's values: applied to the next answer, or refused whole with a reason."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from foundry_local_chat.chat.turn import ChatOptions, ReplyStats
from foundry_local_chat.config import GenerationDefaults
from foundry_local_chat.ui.chat_view import speed_line
from foundry_local_chat.ui.settings_panel import InvalidChatSettings, apply_panel_values
from foundry_local_chat.ui.texts import ENGLISH, KOREAN, WORDS

CURRENT = ChatOptions.defaults("a:1", "Be brief.", GenerationDefaults())


def test_valid_values_replace_the_current_options() -> None:
    values = {"model": "b:1", "system_prompt": "Be kind.", "temperature": 0.7, "max_tokens": 64.0}
    updated = apply_panel_values(CURRENT, {**values, "streaming": False}, ["a:1", "b:1"])
    assert updated == ChatOptions(
        model="b:1", system_prompt="Be kind.", temperature=0.7, max_tokens=64,
        top_p=CURRENT.top_p, streaming=False,
    )  # fmt: skip


def test_missing_values_keep_the_current_ones() -> None:
    assert apply_panel_values(CURRENT, {}, ["a:1"]) == CURRENT


def test_every_problem_is_named_and_nothing_changes() -> None:
    values = {"model": "gone:1", "temperature": "warm", "max_tokens": 99999}
    with pytest.raises(InvalidChatSettings) as error:
        apply_panel_values(CURRENT, values, ["a:1"])
    assert str(error.value) == (
        "the model 'gone:1' is no longer served by this endpoint (it serves: a:1); "
        "Temperature 'warm' is not a number; Max tokens 99999 is outside 16–4096"
    )


def test_a_non_streamed_answer_reports_how_long_the_user_waited() -> None:
    stats = ReplyStats(model="m", started=0.0, streamed=False)
    stats.first_token_at = stats.finished_at = 2.0
    stats.completion_tokens = 40
    assert (
        speed_line(stats, WORDS[ENGLISH])
        == "not streamed: waited 2.00 s · 20.0 tok/s · 40 tokens · m"
    )


def test_a_stopped_answer_says_so_first() -> None:
    stats = ReplyStats(model="m", started=0.0, stopped=True)
    stats.first_token_at, stats.finished_at, stats.chunks = 0.1, 0.6, 11
    assert speed_line(stats, WORDS[ENGLISH]).startswith("stopped · first token 100 ms · 20.0 tok/s")


def test_the_speed_line_speaks_the_chats_language() -> None:
    stats = ReplyStats(model="m", started=0.0, stopped=True)
    stats.first_token_at, stats.finished_at, stats.chunks = 0.1, 0.6, 11
    korean = speed_line(stats, WORDS[KOREAN])
    assert korean == "중지됨 · 첫 토큰 100밀리초 · 초당 20.0토큰 · 11토큰 · 0.60초 · m"


def test_a_korean_chat_is_told_what_is_wrong_in_korean() -> None:
    with pytest.raises(InvalidChatSettings) as error:
        apply_panel_values(CURRENT, {"model": "gone:1", "temperature": 9}, [], WORDS[KOREAN])
    assert str(error.value) == (
        "모델 'gone:1': 이 엔드포인트에서 더 이상 제공되지 않습니다 (제공 중: 없음); "
        "온도 값 9: 0–2 범위를 벗어났습니다"
    )


def test_a_huge_value_is_quoted_shortened() -> None:
    with pytest.raises(InvalidChatSettings) as error:
        apply_panel_values(CURRENT, {"model": "한국 " * 400_000, "temperature": 10**5000}, ["a:1"])
    assert len(str(error.value)) < 300
    assert "Temperature ≈10^5000 is outside 0–2" in str(error.value)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"system_prompt": None}, "System prompt None is not text"),
        ({"streaming": "false"}, "Stream the answer 'false' is neither on nor off"),
        ({"temperature": True}, "Temperature True is not a number"),
        ({"max_tokens": float("nan")}, "Max tokens nan is not a number"),
        ({"temperature": "1e999"}, "Temperature '1e999' is not a number"),
        ({"model": ["a:1"]}, r"the model \['a:1'\] is no longer served"),  # inert as Markdown
    ],
)
def test_a_value_of_the_wrong_kind_is_refused(values: dict[str, object], problem: str) -> None:
    with pytest.raises(InvalidChatSettings) as error:
        apply_panel_values(CURRENT, values, ["a:1"])
    assert str(error.value).startswith(problem)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=5,
) | st.builds(lambda word, times: word * times, st.sampled_from(["a", "한국 "]),
              st.sampled_from([8_001, 400_000])) | st.integers(10**300, 10**5000)  # fmt: skip
KEYS = ["model", "system_prompt", "temperature", "max_tokens", "streaming", "other"]


@given(values=st.dictionaries(st.sampled_from(KEYS), json_values | st.sampled_from(["a:1", "b:1"])))
@settings(max_examples=300, deadline=None)  # megabyte values take a while on a busy CPU
def test_any_panel_values_give_valid_options_or_a_short_reason(values: dict[str, object]) -> None:
    try:
        updated = apply_panel_values(CURRENT, values, ["a:1", "b:1"])
    except InvalidChatSettings as error:
        assert 0 < len(str(error)) < 1000
        return
    assert updated.model in {"a:1", "b:1"}
    assert isinstance(updated.system_prompt, str) and len(updated.system_prompt) <= 8000
    assert isinstance(updated.temperature, float) and 0 <= updated.temperature <= 2
    assert isinstance(updated.max_tokens, int) and 16 <= updated.max_tokens <= 4096
    assert isinstance(updated.streaming, bool)
