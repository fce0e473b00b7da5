"""How fast the model reads prompts on this machine, measured on the prompts read so far: for
the estimate shown while a long prompt is read, and for whether documents can go whole."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_READ_TOKENS_PER_SECOND = 150.0  # until a prompt has been read (the bundled model, 2 cores)
MIN_MEASURED_TOKENS = 64  # a shorter read is mostly fixed cost, not reading


@dataclass
class ReadSpeed:
    """Prompt tokens read per second on this machine, from the prompts read so far (for the
    estimate a client shows while a long prompt is read)."""

    tokens_per_second: float = DEFAULT_READ_TOKENS_PER_SECOND
    measured: bool = False

    def record(self, tokens: int, seconds: float) -> None:
        if tokens < MIN_MEASURED_TOKENS or seconds <= 0:
            return
        speed = tokens / seconds
        self.tokens_per_second = (
            speed if not self.measured else 0.7 * self.tokens_per_second + 0.3 * speed
        )
        self.measured = True

    def seconds_for(self, tokens: int) -> float:
        return tokens / self.tokens_per_second
