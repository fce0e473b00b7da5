"""Markdown the app shows but did not write (a model's answer, a document's text, a file's name)
fetches nothing: an image (`![alt](url)`, `![alt][ref]`) becomes a link to it, shown after a
"!", by a zero-width space between the "!" and the "[" (CommonMark starts an image only at
"![" written together). The page's Content-Security-Policy (page_policy) refuses remote images
anyway; this keeps them from even being asked for, and shows where they point.

`ImageBreaker` does it to a stream of tokens (an answer, as it streams), whatever the cut
between tokens; `inert_images` to a whole text.
"""

from __future__ import annotations

ZERO_WIDTH_SPACE = "\u200b"
IMAGE_START = "!["
BROKEN_START = "!" + ZERO_WIDTH_SPACE + "["


class ImageBreaker:
    """Streamed text in, the same text out with no image start in it: "".join of the outputs
    equals inert_images of "".join of the inputs."""

    def __init__(self) -> None:
        self._after_bang = False  # the text so far ends with "!"

    def feed(self, text: str) -> str:
        if not text:
            return text
        if self._after_bang and text.startswith("["):
            text = ZERO_WIDTH_SPACE + text
        text = text.replace(IMAGE_START, BROKEN_START)
        self._after_bang = text.endswith("!")
        return text


def inert_images(text: str) -> str:
    return text.replace(IMAGE_START, BROKEN_START)
