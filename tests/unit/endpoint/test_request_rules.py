"""What the gateway changes in a chat request, or refuses, before Foundry Local sees it."""

from __future__ import annotations

from foundry_local_chat.endpoint.openai_errors import ContextBudget
from foundry_local_chat.endpoint.request_rules import (
    resolve_model,
    unsupported,
    with_room_for_output,
)

ALIASES = {"smollm2-135m-instruct": "smollm2-135m-instruct-generic-cpu:1"}
MESSAGES = [{"role": "user", "content": "Hi"}]


def test_an_alias_becomes_the_served_variant_id() -> None:
    body = {"model": "smollm2-135m-instruct", "messages": MESSAGES}
    assert resolve_model(body, ALIASES) == {**body, "model": "smollm2-135m-instruct-generic-cpu:1"}
    assert body["model"] == "smollm2-135m-instruct"  # the caller's body is not changed


def test_a_full_id_or_an_unknown_model_is_left_to_foundry() -> None:
    for model in ("smollm2-135m-instruct-generic-cpu:1", "nope", None):
        body = {"model": model, "messages": MESSAGES}
        assert resolve_model(body, ALIASES) is body


def test_options_foundry_would_silently_ignore_are_refused() -> None:
    several = unsupported({"n": 2})
    assert several is not None and (several.status, several.param) == (400, "n")
    logprobs = unsupported({"logprobs": True, "top_logprobs": 2})
    assert logprobs is not None and (logprobs.status, logprobs.param) == (400, "logprobs")
    assert unsupported({"n": 1, "logprobs": False}) is None


def test_without_an_output_limit_a_long_prompt_gets_the_room_left_in_the_context() -> None:
    # Foundry reserved its default 2048 output tokens for a 6530-token prompt: 8578 > 8192.
    budget = ContextBudget(input_tokens=6530, output_tokens=2048, context_length=8192)
    body = {"model": "m", "messages": MESSAGES, "max_tokens": None}
    assert with_room_for_output(body, budget) == {**body, "max_completion_tokens": 1662}


def test_a_limit_the_client_chose_or_a_prompt_that_cannot_fit_is_not_retried() -> None:
    fits = ContextBudget(input_tokens=6530, output_tokens=4000, context_length=8192)
    assert with_room_for_output({"max_tokens": 4000}, fits) is None
    assert with_room_for_output({"max_completion_tokens": 4000}, fits) is None
    too_long = ContextBudget(input_tokens=10035, output_tokens=2048, context_length=8192)
    assert with_room_for_output({}, too_long) is None
    assert with_room_for_output({}, None) is None
