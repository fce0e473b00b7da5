"""The chat settings panel's values, checked and turned into ChatOptions (no Chainlit here).

The panel's widgets send a text, a select's value, numbers and a switch; a client may send
anything in their place (other types, huge or non-finite numbers, megabytes of text). Each
value is checked for its type and range, and a refusal quotes it shortened."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from foundry_local_chat.chat.turn import ChatOptions
from foundry_local_chat.errors import FoundryLocalChatError
from foundry_local_chat.ui.texts import ENGLISH, WORDS, Words, quote

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
    changes nothing on error. A value that is not sent keeps the current one."""
    problems: list[str] = []
    model = values.get("model", current.model)
    if not isinstance(model, str) or model not in served_models:
        served = ", ".join(served_models) or words.nothing
        problems.append(words.model_not_served.format(model=quote(model), served=served))
    system_prompt = values.get("system_prompt", current.system_prompt)
    if not isinstance(system_prompt, str):
        problems.append(
            words.not_text.format(setting=words.system_prompt, value=quote(system_prompt))
        )
    elif len(system_prompt) > SYSTEM_PROMPT_MAX_CHARS:
        problems.append(words.system_prompt_too_long.format(limit=SYSTEM_PROMPT_MAX_CHARS))
    temperature = _number(values, "temperature", words.temperature, current.temperature,
                          TEMPERATURE_RANGE, words, problems)  # fmt: skip
    max_tokens = _number(values, "max_tokens", words.max_tokens, current.max_tokens,
                         MAX_TOKENS_RANGE, words, problems)  # fmt: skip
    streaming = values.get("streaming", current.streaming)
    if not isinstance(streaming, bool):
        problems.append(
            words.not_on_or_off.format(setting=words.stream_the_answer, value=quote(streaming))
        )
    if problems:
        raise InvalidChatSettings("; ".join(problems))
    return replace(
        current,
        model=model,
        system_prompt=system_prompt,
        temperature=temperature,
        max_tokens=round(max_tokens),
        streaming=streaming,
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
    """A finite number within `bounds` (a numeral in a string counts: some clients send text);
    not sent, the current value stays (the app's own setting may lie outside the panel's range)."""
    if key not in values:
        return default
    raw = values[key]
    number = _as_number(raw)
    if number is None:
        problems.append(words.not_a_number.format(setting=label, value=quote(raw)))
        return default
    low, high = bounds
    if not low <= number <= high:
        problems.append(
            words.out_of_range.format(
                setting=label, value=quote(raw), low=f"{low:g}", high=f"{high:g}"
            )
        )
        return default
    return number


def _as_number(raw: object) -> float | None:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        return None
    if isinstance(raw, int):
        return float(raw) if raw.bit_length() <= 64 else (math.inf if raw > 0 else -math.inf)
    if isinstance(raw, str) and len(raw) > 64:
        return None
    try:
        number = float(raw)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
