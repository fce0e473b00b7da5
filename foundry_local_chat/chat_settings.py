"""The chat settings panel's values, checked and turned into ChatOptions (no Chainlit here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from foundry_local_chat.chat import ChatOptions
from foundry_local_chat.errors import FoundryLocalChatError
from foundry_local_chat.ui_text import ENGLISH, WORDS, Words

TEMPERATURE_RANGE = (0.0, 2.0)
MAX_TOKENS_RANGE = (16, 4096)
SYSTEM_PROMPT_MAX_CHARS = 8000


class InvalidChatSettings(FoundryLocalChatError, ValueError):
    """A setting the next answer cannot use; the message says which and why."""


def apply_panel_values(
    current: ChatOptions,
    values: Mapping[str, Any],
    served_models: Sequence[str],
    words: Words = WORDS[ENGLISH],
) -> ChatOptions:
    """New options for the next answer; raises InvalidChatSettings (in `words`' language) and
    changes nothing on error."""
    problems = []
    model = str(values.get("model", current.model))
    if model not in served_models:
        served = ", ".join(served_models) or words.nothing
        problems.append(words.model_not_served.format(model=repr(model), served=served))
    system_prompt = str(values.get("system_prompt", current.system_prompt))
    if len(system_prompt) > SYSTEM_PROMPT_MAX_CHARS:
        problems.append(words.system_prompt_too_long.format(limit=SYSTEM_PROMPT_MAX_CHARS))
    temperature = _number(
        values, "temperature", words.temperature, current.temperature, TEMPERATURE_RANGE, words,
        problems,
    )  # fmt: skip
    max_tokens = _number(
        values, "max_tokens", words.max_tokens, current.max_tokens, MAX_TOKENS_RANGE, words,
        problems,
    )  # fmt: skip
    if problems:
        raise InvalidChatSettings("; ".join(problems))
    return replace(
        current,
        model=model,
        system_prompt=system_prompt,
        temperature=float(temperature),
        max_tokens=int(max_tokens),
        streaming=bool(values.get("streaming", current.streaming)),
    )


def _number(
    values: Mapping[str, Any],
    key: str,
    label: str,
    default: float,
    bounds: tuple[float, float],
    words: Words,
    problems: list[str],
) -> float:
    raw = values.get(key, default)
    try:
        number = float(raw)
    except (TypeError, ValueError):
        problems.append(words.not_a_number.format(setting=label, value=repr(raw)))
        return default
    low, high = bounds
    if not low <= number <= high:
        problems.append(
            words.out_of_range.format(setting=label, value=raw, low=f"{low:g}", high=f"{high:g}")
        )
        return default
    return number
