"""OpenAI chat completion objects for answers the gateway produces itself (session_engine.py), in
the shape Foundry Local's web service sends them: the same fields, the same order of events
(a role chunk, one chunk per piece of text, the finish chunk, the usage chunk, `[DONE]`).

`usage.prompt_tokens_details.cached_tokens` is OpenAI's own field for prompt tokens a provider
did not read again; Foundry's web service always sends 0 there.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

DONE = b"data: [DONE]\n\n"


@dataclass(frozen=True)
class Completion:
    model: str
    id: str = field(default_factory=lambda: f"chatcmpl-{secrets.token_hex(8)}")
    created: int = field(default_factory=lambda: int(time.time()))

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        payload = {
            "choices": choices,
            "created": self.created,
            "id": self.id,
            "model": self.model,
            "object": "chat.completion.chunk",
            "system_fingerprint": None,
            **extra,
        }
        return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"

    def role_chunk(self) -> bytes:
        return self._delta({"content": "", "role": "assistant"}, None)

    def text_chunk(self, text: str) -> bytes:
        return self._delta({"content": text}, None)

    def finish_chunk(self, finish_reason: str) -> bytes:
        return self._delta({}, finish_reason)

    def usage_chunk(self, usage: dict[str, Any]) -> bytes:
        return self._chunk([], usage=usage)

    def _delta(self, delta: dict[str, Any], finish_reason: str | None) -> bytes:
        choice = {"delta": delta, "finish_reason": finish_reason, "index": 0, "logprobs": None}
        return self._chunk([choice])

    def whole(self, text: str, finish_reason: str, usage: dict[str, Any]) -> dict[str, Any]:
        message = {"content": text, "refusal": None, "role": "assistant"}
        return {
            "choices": [
                {"finish_reason": finish_reason, "index": 0, "logprobs": None, "message": message}
            ],
            "created": self.created,
            "id": self.id,
            "model": self.model,
            "object": "chat.completion",
            "system_fingerprint": None,
            "usage": usage,
        }


def usage(prompt_tokens: int, completion_tokens: int, cached_tokens: int) -> dict[str, Any]:
    return {
        "completion_tokens": completion_tokens,
        "completion_tokens_details": {"reasoning_tokens": 0},
        "prompt_tokens": prompt_tokens,
        "prompt_tokens_details": {"cached_tokens": cached_tokens},
        "total_tokens": prompt_tokens + completion_tokens,
    }
