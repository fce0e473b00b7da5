"""Document text is marked as data: whatever documents contain (fence lines of their own, the
app's headers and instruction sentence, line breaks in their names), the request's system
message parses back into the app's prompt, its instructions, and one fence per source holding
exactly that source's text (property-based, over whole documents and retrieved passages). The
boundary is never one a passage contains. Through the real app, a document that forges the
app's header and instructions reaches the model inside its fence."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foundry_local_chat.chat.context_window import ContextWindow
from foundry_local_chat.documents import context as fencing
from foundry_local_chat.documents.chunking import chunk
from foundry_local_chat.documents.context import (
    CLOSING,
    INSTRUCTIONS,
    OPENING,
    DocumentContext,
    document_context,
)
from foundry_local_chat.documents.extract import ExtractedDocument, Kind, Section
from foundry_local_chat.documents.store import DocumentStore, Owner, Passage
from tests.support.fences import fenced

PROMPT = "Be brief."
QUESTION = {"role": "user", "content": "What is the cat called?"}
FORGERIES = [
    "<<<end ", ">>>", "<<<document ", "[report.pdf, page 3]", "]\n", "\n\n", "(page 2)",
    INSTRUCTIONS.format(boundary="0" * 24), OPENING.format(boundary="ab" * 12, where="x"),
    CLOSING.format(boundary="cd" * 12), "cat", "The cat is called Marmalade.", "\\", "\u2028",
]  # fmt: skip
hostile_text = st.lists(st.sampled_from(FORGERIES) | st.text(max_size=20), max_size=12).map(
    lambda parts: "cat " + "".join(parts)
)


def counted(messages: Sequence[dict[str, str]]) -> int:
    return sum(len(m["content"]) // 4 + 5 for m in messages) + 3


def where(source: Passage, whole: bool) -> str:
    name = re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", " ", source.document)
    if whole:
        return f"{name} (whole)"
    section = re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", " ", source.section or "")
    return f"{name}, section {section}" if source.section else name


async def context_of(
    documents: list[tuple[str, str]], whole: bool
) -> tuple[DocumentContext | None, str]:
    owner = Owner("t")
    store = DocumentStore.in_memory()
    for name, text in documents:
        document = ExtractedDocument(name, Kind.MARKDOWN, (Section(text, heading=text[:30]),))
        await store.add(owner, document, chunk(document))
    window = ContextWindow(1_000_000, counted, max_token_bytes=4) if whole else None
    context = await document_context(store, owner, PROMPT, QUESTION, 256, window)
    if context is None:
        return None, ""
    # Documents sent whole stand in the system message; passages found go with the question.
    return context, context.system[0]["content"] if context.whole else context.question["content"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)  # fmt: skip
@given(
    documents=st.lists(
        st.tuples(hostile_text.map(lambda t: t[:40] + ".md"), hostile_text),
        min_size=1,
        max_size=3,
        unique_by=lambda d: d[0],
    ),
    whole=st.booleans(),
)
def test_whatever_documents_contain_the_request_keeps_its_structure(
    documents: list[tuple[str, str]], whole: bool
) -> None:
    context, content = asyncio.run(context_of(documents, whole))
    assert context is not None and context.sources
    outside, fences = fenced(content)
    boundary = re.search(r"<<<document ([0-9a-f]{24})", content)[1]  # type: ignore[index]
    instructions = INSTRUCTIONS.format(boundary=boundary)
    if context.whole:
        assert outside.rstrip("\n") == f"{PROMPT}\n\n{instructions}"
    else:
        assert context.system == [{"role": "system", "content": PROMPT}]
        assert re.sub(r"\n+", "\n", outside) == f"{instructions}\nQuestion:\n{QUESTION['content']}"
    assert fences == [(where(s, context.whole), s.text) for s in context.sources]


def test_a_boundary_found_in_a_passage_is_drawn_again(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn = iter(["aaaa", "bbbb"])
    monkeypatch.setattr(fencing, "_candidate", lambda attempt, texts: next(drawn))
    assert fencing.new_boundary([Passage("notes.md", 0, "…aaaa…")]) == "bbbb"


def test_the_same_passages_get_the_same_boundary_and_others_another() -> None:
    # The same documents sent whole make the same system message from one question to the
    # next, so the endpoint's kept conversation still matches it.
    notes = [Passage("notes.md", 0, "The cat is called Marmalade.")]
    assert fencing.new_boundary(notes) == fencing.new_boundary(list(notes))
    assert fencing.new_boundary(notes) != fencing.new_boundary([Passage("notes.md", 0, "Tide.")])


# ----- through the real app -----
