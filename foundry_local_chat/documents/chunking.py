"""A document split into passages for retrieval: by heading (or PDF page), then by paragraph, so
that each passage says where it came from and none crosses a page or a heading.

Passages are at most CHUNK_CHARS characters (about 250-400 tokens of English): a few of them fit
in a small model's context next to the question. A paragraph longer than that is cut at a
sentence end, else at a space, else anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from foundry_local_chat.documents.extract import ExtractedDocument, Section

CHUNK_CHARS = 1200
MIN_CUT_CHARS = CHUNK_CHARS // 2  # a cut at a sentence end or space is taken past this point


@dataclass(frozen=True)
class Chunk:
    position: int  # order in the document, from 0
    text: str
    page: int | None = None
    section: str | None = None  # the heading the passage is under


def chunk(document: ExtractedDocument, limit: int = CHUNK_CHARS) -> list[Chunk]:
    """The document's passages, in order; their texts hold all of its text."""
    chunks: list[Chunk] = []
    for section in document.sections:
        for text in _pack(_paragraphs(section), limit):
            chunks.append(Chunk(len(chunks), text, section.page, section.heading))
    return chunks


def _paragraphs(section: Section) -> Iterator[str]:
    for paragraph in re.split(r"\n\s*\n", section.text):
        if paragraph.strip():
            yield paragraph.strip()


def _pack(paragraphs: Iterator[str], limit: int) -> Iterator[str]:
    """Paragraphs joined into passages of at most `limit` characters."""
    current = ""
    for paragraph in paragraphs:
        for piece in _cut(paragraph, limit):
            if current and len(current) + 2 + len(piece) > limit:
                yield current
                current = ""
            current = f"{current}\n\n{piece}" if current else piece
    if current:
        yield current


def _cut(text: str, limit: int) -> Iterator[str]:
    while len(text) > limit:
        window = text[:limit]
        cut = max(window.rfind(". "), window.rfind("? "), window.rfind("! "), window.rfind("\n"))
        if cut < min(MIN_CUT_CHARS, limit // 2):
            cut = window.rfind(" ")
        if cut < min(MIN_CUT_CHARS, limit // 2):
            cut = limit - 1
        head, text = text[: cut + 1].strip(), text[cut + 1 :].strip()
        if head:
            yield head
    if text:
        yield text
