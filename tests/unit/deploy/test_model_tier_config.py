"""deploy/nginx-model-tier.conf: the directives failover and streaming depend on, and nginx's own
check of the config as the tests render it."""

from __future__ import annotations

import re

from tests.support.nginx import MODEL_TIER_SNIPPET

CONFIG = MODEL_TIER_SNIPPET.read_text()
LIVE = "\n".join(line.split("#", 1)[0] for line in CONFIG.splitlines())  # without comments


def block(name: str) -> str:
    """The text of the first `name … { … }` block (no nested blocks in the ones asked for)."""
    match = re.search(rf"(?m)^\s*{re.escape(name)}\s*\{{(?P<body>[^{{}}]*)\}}", LIVE)
    assert match is not None, f"no `{name}` block in {MODEL_TIER_SNIPPET.name}"
    return match["body"]


def directive(body: str, name: str) -> list[list[str]]:
    """The arguments of each `name …;` in `body`."""
    return [found.split() for found in re.findall(rf"(?m)^\s*{name}\b([^;]*);", body)]


def test_the_upstream_balances_by_open_connections_and_takes_failing_endpoints_out() -> None:
    upstream = block("upstream foundry_local_models")
    assert directive(upstream, "least_conn") == [[]]
    servers = directive(upstream, "server")
    assert len(servers) >= 2
    for server in servers:
        options = dict(part.split("=", 1) for part in server[1:])
        assert int(options["max_fails"]) >= 1
        assert re.fullmatch(r"\d+s", options["fail_timeout"])
    assert directive(upstream, "zone"), "failure counts must be shared by all workers"


def test_streams_pass_unbuffered_and_requests_fail_over_before_their_first_token() -> None:
    location = block("location /v1/")
    assert directive(location, "proxy_pass") == [["http://foundry_local_models"]]
    assert directive(location, "proxy_buffering") == [["off"]]
    assert directive(location, "proxy_cache") == [["off"]]
    # A retry sends the request body again: it must stay buffered.
    assert directive(location, "proxy_request_buffering") in ([], [["on"]])
    [next_upstream] = directive(location, "proxy_next_upstream")
    expected = {"error", "timeout", "http_502", "http_503", "http_429", "non_idempotent"}
    assert set(next_upstream) == expected
    [[tries]] = directive(location, "proxy_next_upstream_tries")
    assert int(tries) >= 2
    # The client's Authorization reaches the endpoint, which checks the key.
    headers = [args[0].lower() for args in directive(location, "proxy_set_header")]
    assert "authorization" not in headers
    assert directive(location, "proxy_pass_request_headers") in ([], [["on"]])


def test_the_comments_explain_why_a_started_stream_is_never_retried() -> None:
    comments = " ".join(line.split("#", 1)[1] for line in CONFIG.splitlines() if "#" in line)
    assert "never retried" in comments and "non_idempotent" in comments
