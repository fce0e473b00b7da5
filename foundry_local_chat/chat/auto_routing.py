"""Which backend answers a message in the "Auto" chat profile: local first, remote as fallback."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Route = Literal["local", "remote"]


@dataclass(frozen=True)
class RoutingDecision:
    route: Route
    reason: str


def route_message(
    prompt_chars: int, local_available: bool, remote_configured: bool, long_prompt_chars: int
) -> RoutingDecision:
    """Local unless it is down, or the prompt is longer than the local model handles well."""
    if not remote_configured:
        return RoutingDecision("local", "no remote backend is configured")
    if not local_available:
        return RoutingDecision("remote", "the local endpoint is unavailable")
    if prompt_chars > long_prompt_chars:
        return RoutingDecision(
            "remote", f"the prompt is longer than {long_prompt_chars} characters"
        )
    return RoutingDecision("local", "local first")
