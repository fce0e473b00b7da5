"""Reading the documents' fences back out of a system message."""

from __future__ import annotations

import re


def fenced(content: str) -> tuple[str, list[tuple[str, str]]]:
    """The system message's parts: what stands outside the fences, and each fence's header and
    text, in order (a fence's text is read up to the first line that closes it)."""
    boundary = re.search(r"<<<document ([0-9a-f]{24}) \[file, place\]>>>", content)
    assert boundary, content
    pattern = re.compile(
        rf"<<<document {boundary[1]} \[([^\n]*)\]>>>\n(.*?)\n<<<end {boundary[1]}>>>", re.S
    )
    return pattern.sub("", content), pattern.findall(content)
