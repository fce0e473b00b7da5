"""The <think> splitter and the Auto profile's routing rule."""

from __future__ import annotations

import pytest

from foundry_local_chat.chat.auto_routing import route_message
from foundry_local_chat.chat.thinking import ThinkSplitter


def split(tokens: list[str]) -> list[tuple[str, str]]:
    splitter = ThinkSplitter()
    parts = [part for token in tokens for part in splitter.feed(token)]
    parts += list(splitter.flush())
    merged: list[tuple[str, str]] = []
    for kind, text in parts:  # adjacent parts of one kind read as one
        if merged and merged[-1][0] == kind:
            merged[-1] = (kind, merged[-1][1] + text)
        else:
            merged.append((kind, text))
    return merged


def test_text_without_tags_is_all_answer() -> None:
    assert split(["Paris", " is", " the capital."]) == [("answer", "Paris is the capital.")]


def test_thinking_goes_apart_from_the_answer() -> None:
    tokens = ["<think>", "The user asks", " about France.", "</think>", "Paris."]
    assert split(tokens) == [("thinking", "The user asks about France."), ("answer", "Paris.")]


@pytest.mark.parametrize("cut", range(1, 30))
def test_tags_split_across_tokens_are_recognised(cut: int) -> None:
    text = "<think>Let me see.</think>It is Paris."
    assert split([text[:cut], text[cut:]]) == [
        ("thinking", "Let me see."),
        ("answer", "It is Paris."),
    ]


def test_a_lone_angle_bracket_is_not_held_back_forever() -> None:
    assert split(["a <", "b"]) == [("answer", "a <b")]
    assert split(["x <thi"]) == [("answer", "x <thi")]  # the stream ended: it was text


def test_unclosed_thinking_stays_thinking() -> None:
    assert split(["<think>still going"]) == [("thinking", "still going")]


def test_auto_routing_is_local_first() -> None:
    decision = route_message(
        100, local_available=True, remote_configured=True, long_prompt_chars=2000
    )
    assert decision.route == "local"


def test_auto_routing_sends_long_prompts_and_outages_to_the_remote() -> None:
    long = route_message(2001, local_available=True, remote_configured=True, long_prompt_chars=2000)
    assert long.route == "remote" and "longer than 2000" in long.reason
    down = route_message(10, local_available=False, remote_configured=True, long_prompt_chars=2000)
    assert down.route == "remote" and "unavailable" in down.reason


def test_auto_routing_without_a_remote_stays_local() -> None:
    decision = route_message(
        9999, local_available=False, remote_configured=False, long_prompt_chars=10
    )
    assert decision.route == "local"
