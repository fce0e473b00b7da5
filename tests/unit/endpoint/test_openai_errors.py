"""Foundry Local's errors become the HTTP status, message and code an OpenAI client expects.

The payloads are what Foundry Local 2.2.1 sends (captured from its web service).
"""

from __future__ import annotations

import pytest

from foundry_local_chat.endpoint.openai_errors import (
    ApiError,
    context_budget,
    from_foundry,
    readable,
)

BUDGET = (
    "search_options.cc:108 int fl::ValidateGeneratorRequestBudget(int64_t, int, int) request "
    "requires 10045 total tokens (10035 input + 10 output), which exceeds the model's maximum "
    "context length of 8192 tokens"
)
CLEAR_BUDGET = (
    "Request requires 10045 total tokens (10035 input + 10 output), which exceeds the model's "
    "maximum context length of 8192 tokens"
)
TOOLS = (
    "chat_session.cc:1197 fl::ToolCallContext fl::{anonymous}::BuildToolCallContextForRequest("
    "const fl::Request&, const fl::KeyValuePairs&, const std::vector<fl::ToolDefinition>&, "
    "const fl::ModelInfo&, fl::GenAIModelInstance&, fl::ILogger&) structured tool calling "
    "requires model-published opening and closing tool markers"
)
STOP = (
    "Invalid request: stop_strings.cc:56 std::vector<std::__cxx11::basic_string<char>, "
    "std::allocator<std::__cxx11::basic_string<char> > > fl::{anonymous}::NormalizeStopStrings"
    "Impl(const nlohmann::json_abi_v3_11_3::json&, size_t, bool, const char*) stop supports at "
    "most 4 strings"
)


def foundry_error(message: str, type_: str = "invalid_request_error") -> dict[str, object]:
    return {"error": {"code": None, "message": message, "param": None, "type": type_}}


@pytest.mark.parametrize(
    ("native", "clear"),
    [
        (f"Invalid request: {BUDGET}", CLEAR_BUDGET),  # as a 400 response
        (BUDGET, CLEAR_BUDGET),  # as the first event of a stream
        (f"Inference failed: {TOOLS}", "Inference failed: structured tool calling requires "
                                       "model-published opening and closing tool markers"),
        (STOP, "Stop supports at most 4 strings"),
        ("Model not found: No model matching 'nope'", "Model not found: No model matching 'nope'"),
    ],
    ids=["context-as-400", "context-in-stream", "tools", "stop", "no-location"],
)  # fmt: skip
def test_native_source_locations_are_dropped_from_messages(native: str, clear: str) -> None:
    assert readable(native) == clear


def test_a_too_long_prompt_is_a_400_with_openais_code_streamed_or_not() -> None:
    as_json = from_foundry(400, foundry_error(f"Invalid request: {BUDGET}"))
    in_stream = from_foundry(None, foundry_error(BUDGET))  # the first event of a 200 stream
    assert as_json == in_stream
    assert (as_json.status, as_json.code, as_json.param) == (
        400,
        "context_length_exceeded",
        "messages",
    )
    assert ".cc:" not in as_json.message and "8192 tokens" in as_json.message


def test_the_context_budget_is_read_from_the_message() -> None:
    budget = context_budget(readable(BUDGET))
    assert budget is not None
    assert (budget.input_tokens, budget.output_tokens, budget.context_length) == (10035, 10, 8192)
    assert budget.room_for_output == 8192 - 10035
    assert context_budget("Model not found") is None


def test_tools_the_model_cannot_use_are_a_400_not_a_500() -> None:
    error = from_foundry(500, foundry_error(f"Inference failed: {TOOLS}", "server_error"))
    assert (error.status, error.type, error.param) == (400, "invalid_request_error", "tools")
    assert error.code == "unsupported_parameter"
    assert "does not support tool calling" in error.message


def test_an_unknown_model_is_a_404_with_model_not_found() -> None:
    error = from_foundry(404, foundry_error("Model not found: No model matching 'nope'"))
    assert (error.status, error.param, error.code) == (404, "model", "model_not_found")


def test_other_errors_keep_their_status_and_type() -> None:
    penalty = (
        "Unsupported parameter: nonzero frequency_penalty and presence_penalty are not supported"
    )
    assert from_foundry(400, foundry_error(penalty)) == ApiError(400, penalty)
    crash = from_foundry(None, foundry_error("Inference failed: out of memory", "server_error"))
    assert (crash.status, crash.type) == (500, "server_error")


def test_the_web_servers_plain_text_404_becomes_an_openai_error() -> None:
    page = "server=oatpp/1.3.0\ncode=404\ndescription=Not Found\nmessage=No mapping for HTTP-method"
    error = from_foundry(404, page)
    assert error.body() == {
        "error": {"message": "No mapping for HTTP-method", "type": "invalid_request_error",
                  "param": None, "code": None}
    }  # fmt: skip
