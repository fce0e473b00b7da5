"""What the app knows of a model from its name, and when the loop guard is on (LOOP_GUARD)."""

from __future__ import annotations

import pytest

from foundry_local_chat.config import BUNDLED_MODEL_ALIAS, BUNDLED_MODEL_ID, ConfigError, Settings
from foundry_local_chat.models.facts import KOREAN_MODEL_EXAMPLE, facts_for, loop_guard_on


@pytest.mark.parametrize("model", [BUNDLED_MODEL_ALIAS, BUNDLED_MODEL_ID])
def test_the_bundled_model_is_small_and_writes_english_only(model: str) -> None:
    facts = facts_for(model)
    assert facts.bundled and facts.small and facts.parameters == 135_000_000
    assert facts.writes("en") is True and facts.writes("ko") is False


@pytest.mark.parametrize(
    ("model", "parameters", "korean"),
    [
        (KOREAN_MODEL_EXAMPLE, 3_800_000_000, True),
        ("Phi-4-mini-instruct-generic-cpu:1", 3_800_000_000, True),
        ("qwen2.5-0.5b-instruct-generic-cpu:3", 500_000_000, True),
        ("qwen2.5-coder-7b-instruct-generic-cpu:3", 7_000_000_000, None),  # code, not languages
        ("deepseek-r1-distill-qwen-7b-generic-cpu:1", 7_000_000_000, None),
        ("phi-4-mini-reasoning", None, None),  # another model: nothing known of it
        ("gpt-oss-20b", 20_000_000_000, None),
        ("llama3.2:1b", 1_000_000_000, None),
        ("tiny:1", None, None),
    ],
)
def test_what_a_name_tells(model: str, parameters: int | None, korean: bool | None) -> None:
    facts = facts_for(model)
    assert not facts.bundled
    assert (facts.parameters, facts.writes("ko")) == (parameters, korean)


def test_the_korean_example_writes_korean() -> None:
    assert facts_for(KOREAN_MODEL_EXAMPLE).writes("ko") is True


@pytest.mark.parametrize(
    ("setting", "model", "on"),
    [
        (None, BUNDLED_MODEL_ID, True),  # small: on by default
        (None, "qwen2.5-1.5b", True),
        (None, "qwen2.5-7b", False),
        (None, "tiny:1", False),  # size unknown: as the server sends it
        (True, "qwen2.5-7b", True),
        (False, BUNDLED_MODEL_ID, False),
    ],
)
def test_the_loop_guard_is_on_for_small_models_unless_set(
    setting: bool | None, model: str, on: bool
) -> None:
    assert loop_guard_on(setting, model) is on


@pytest.mark.parametrize(("raw", "read"), [("", None), ("auto", None), ("1", True), ("off", False)])
def test_loop_guard_is_read_from_the_environment(raw: str, read: bool | None) -> None:
    assert Settings.from_env({"LOOP_GUARD": raw}).loop_guard is read


def test_a_loop_guard_that_is_no_switch_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"^LOOP_GUARD='sometimes' is not a switch"):
        Settings.from_env({"LOOP_GUARD": "sometimes"})
