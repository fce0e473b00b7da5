"""The chat settings panel's values, checked and turned into ChatOptions (no Chainlit here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from foundry_local_chat.chat import ChatOptions

TEMPERATURE_RANGE = (0.0, 2.0)
MAX_TOKENS_RANGE = (16, 4096)
SYSTEM_PROMPT_MAX_CHARS = 8000


class InvalidChatSettings(ValueError):
    """A setting the next answer cannot use; the message says which and why."""


def apply_panel_values(
    current: ChatOptions, values: Mapping[str, Any], served_models: Sequence[str]
) -> ChatOptions:
    """New options for the next answer; raises InvalidChatSettings and changes nothing on error."""
    problems = []
    model = str(values.get("model", current.model))
    if model not in served_models:
        problems.append(
            f"the model {model!r} is no longer served by this endpoint "
            f"(it serves: {', '.join(served_models) or 'nothing'})"
        )
    system_prompt = str(values.get("system_prompt", current.system_prompt))
    if len(system_prompt) > SYSTEM_PROMPT_MAX_CHARS:
        problems.append(f"the system prompt is longer than {SYSTEM_PROMPT_MAX_CHARS} characters")
    temperature = _number(values, "temperature", current.temperature, TEMPERATURE_RANGE, problems)
    max_tokens = _number(values, "max_tokens", current.max_tokens, MAX_TOKENS_RANGE, problems)
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
    default: float,
    bounds: tuple[float, float],
    problems: list[str],
) -> float:
    raw = values.get(key, default)
    try:
        number = float(raw)
    except (TypeError, ValueError):
        problems.append(f"{key.replace('_', ' ')} {raw!r} is not a number")
        return default
    low, high = bounds
    if not low <= number <= high:
        problems.append(f"{key.replace('_', ' ')} {raw} is outside {low:g}–{high:g}")
        return default
    return number
