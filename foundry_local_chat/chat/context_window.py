"""What of a conversation fits in the model's context: exact prompt token counts with the model's
own tokenizer and chat template, and the request built from the newest turns that fit.

The server adds the chat template around the messages and refuses a request whose prompt plus
`max_tokens` exceeds the context, so counts are taken on the rendered template, as the server
does; the tests compare them with the counts Foundry Local reports.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import Tokenizer

from foundry_local_chat.errors import FoundryLocalChatError

log = logging.getLogger(__name__)

Message = dict[str, str]
MIN_ANSWER_TOKENS = 64
"""A request that leaves the model less room than this for its answer is not worth sending."""


@dataclass(frozen=True)
class ContextWindow:
    context_length: int
    count_tokens: Callable[[Sequence[Message]], int]  # prompt tokens of these messages
    max_token_bytes: int = 1  # the longest token's UTF-8 bytes: text of n bytes has ≥ n/this

    def fewest_tokens(self, text: str) -> int:
        """A lower bound on the tokens of `text`, without tokenizing it (a huge paste would
        take seconds)."""
        return -(-len(text.encode("utf-8", "replace")) // self.max_token_bytes)


class MessageTooLong(FoundryLocalChatError, ValueError):
    """The new message cannot fit in the context even alone (with the system prompt)."""

    def __init__(
        self, message_tokens: int, limit: int, context_length: int, exact: bool = True
    ) -> None:
        size = f"{message_tokens}" if exact else f"at least {message_tokens}"
        super().__init__(
            f"the message is {size} tokens; at most {limit} fit "
            f"(the model's context is {context_length} tokens, answer included)"
        )
        self.message_tokens = message_tokens
        self.limit = limit
        self.context_length = context_length
        self.exact = exact  # False: message_tokens is a lower bound (too long to count)


@dataclass(frozen=True)
class FittedRequest:
    messages: list[Message]
    prompt_tokens: int | None  # None: no exact count (the model's tokenizer is not known here)
    max_tokens: int
    left_out: int = 0  # earlier turns not sent because they no longer fit


def fit_request(
    system: Sequence[Message],
    earlier: Sequence[Message],
    new: Message,
    max_tokens: int,
    window: ContextWindow | None,
) -> FittedRequest:
    """The system prompt, as many of the newest earlier turns as fit, and the new message.

    Room for `max_tokens` of answer is kept while earlier turns are left out; with no earlier
    turn left, the answer gets the room there is (at least MIN_ANSWER_TOKENS). Raises
    MessageTooLong when the new message cannot fit even so.
    """
    if window is None:
        return FittedRequest([*system, *earlier, new], None, max_tokens)

    def request(start: int) -> list[Message]:
        return [*system, *earlier[start:], new]

    most = window.context_length - MIN_ANSWER_TOKENS
    if (fewest := window.fewest_tokens(new["content"])) > most:
        raise MessageTooLong(fewest, most, window.context_length, exact=False)
    alone = window.count_tokens(request(len(earlier)))
    if alone + MIN_ANSWER_TOKENS > window.context_length:
        around = window.count_tokens(system) if system else 0
        raise MessageTooLong(
            message_tokens=alone - around,
            limit=window.context_length - MIN_ANSWER_TOKENS - around,
            context_length=window.context_length,
        )
    budget = window.context_length - max_tokens

    # Fewer earlier turns never make more tokens: find the first start that fits by bisection.
    low, high = 0, len(earlier)
    while low < high:
        middle = (low + high) // 2
        if window.count_tokens(request(middle)) <= budget:
            high = middle
        else:
            low = middle + 1
    start = low
    while start < len(earlier) and earlier[start]["role"] != "user":
        start += 1  # a conversation the model reads starts with a question, not an answer
    messages = request(start)
    prompt_tokens = alone if start == len(earlier) else window.count_tokens(messages)
    room = window.context_length - prompt_tokens
    return FittedRequest(messages, prompt_tokens, min(max_tokens, room), left_out=start)


# ----- the model's own tokenizer and chat template -----


def _special_token(value: Any) -> str:
    """tokenizer_config.json writes special tokens as strings or as {"content": …} objects."""
    if isinstance(value, dict):
        return str(value.get("content", ""))
    return str(value or "")


def _raise(message: str) -> None:
    raise ValueError(message)


class TemplateCounter:
    """Renders messages with the model's chat template and counts the tokens of the result."""

    def __init__(self, tokenizer: Tokenizer, template: str, special: dict[str, str]) -> None:
        environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        environment.globals["raise_exception"] = _raise
        self._template = environment.from_string(template)
        self._tokenizer = tokenizer
        self._special = special

    def __call__(self, messages: Sequence[Message]) -> int:
        text = self._template.render(
            messages=list(messages), add_generation_prompt=True, **self._special
        )
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)


def _context_length(genai_config: dict[str, Any]) -> int | None:
    model = genai_config.get("model", {})
    search = genai_config.get("search", {})
    for value in (model.get("context_length"), search.get("max_length")):
        if isinstance(value, int) and value > 0:
            return value
    return None


@lru_cache(maxsize=8)
def read_window(model_dir: Path) -> ContextWindow | None:
    """The window of an ONNX Runtime GenAI model folder (Foundry Local's format), or None when
    the folder lacks what exact counting needs (the caller then sends the conversation as is)."""
    try:
        genai_config = json.loads((model_dir / "genai_config.json").read_text())
        tokenizer_config = json.loads((model_dir / "tokenizer_config.json").read_text())
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    except Exception as error:  # OSError, bad JSON, and tokenizers raises a plain Exception
        log.info("no exact token counts for %s: %s", model_dir, error)
        return None
    context_length = _context_length(genai_config)
    template = tokenizer_config.get("chat_template")
    template_file = model_dir / "chat_template.jinja"  # where transformers 5 writes it
    if template is None and template_file.is_file():
        template = template_file.read_text()
    if context_length is None or not isinstance(template, str):
        log.info("no exact token counts for %s: no context length or chat template", model_dir)
        return None
    special = {
        name: _special_token(tokenizer_config.get(name))
        for name in ("bos_token", "eos_token", "unk_token", "pad_token")
    }
    # A vocabulary entry's UTF-8 length is at least the bytes of text it stands for (byte-level
    # BPE writes a byte as one character, SentencePiece a space as "▁"), so the bound is safe.
    max_token_bytes = max(len(token.encode()) for token in tokenizer.get_vocab())
    return ContextWindow(
        context_length, TemplateCounter(tokenizer, template, special), max_token_bytes
    )
