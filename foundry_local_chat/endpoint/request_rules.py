"""What the gateway changes in, or refuses about, a request before Foundry Local sees it.

Pure functions on the parsed JSON body, so each rule is testable without a server.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from foundry_local_chat.endpoint.openai_errors import ApiError, ContextBudget

Body = dict[str, Any]


def resolve_model(body: Body, aliases: Mapping[str, str]) -> Body:
    """`model: "<alias>"` becomes the variant id Foundry serves; other bodies are returned as is."""
    model = body.get("model")
    if isinstance(model, str) and model in aliases:
        return {**body, "model": aliases[model]}
    return body


def unsupported(body: Body) -> ApiError | None:
    """Options Foundry Local would silently ignore are refused instead, with a clear 400."""
    n = body.get("n")
    if isinstance(n, int) and n > 1:
        return ApiError(
            400, f"n={n} is not supported: this endpoint returns one choice per request.",
            param="n", code="unsupported_parameter",
        )  # fmt: skip
    if body.get("logprobs") is True:
        return ApiError(
            400, "logprobs is not supported by this endpoint.",
            param="logprobs", code="unsupported_parameter",
        )  # fmt: skip
    return None


def sets_output_limit(body: Body) -> bool:
    return body.get("max_tokens") is not None or body.get("max_completion_tokens") is not None


def with_room_for_output(body: Body, budget: ContextBudget | None) -> Body | None:
    """The request again with the output limited to what fits the context, if that helps.

    Without max_tokens, Foundry reserves 2048 output tokens and rejects prompts that leave less
    room; OpenAI's behaviour is to generate until the context is full. Only requests that set no
    limit are retried, and only when the prompt itself fits.
    """
    if budget is None or sets_output_limit(body) or budget.room_for_output < 1:
        return None
    return {**body, "max_completion_tokens": budget.room_for_output}
