"""Reading, splitting, storing and choosing documents, in-process: any bytes give a document or a
clear refusal (property-based), PDFs keep their page numbers, passages never cross a page or a
heading, the store finds a page's passage for a question about it and never another owner's,
and a request carries the documents whole when they fit, else the best passages."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foundry_local_chat.chat.context_window import ContextWindow
from foundry_local_chat.documents.chunking import CHUNK_CHARS, chunk
from foundry_local_chat.documents.context import RETRIEVAL_SHARE, document_context
from foundry_local_chat.documents.extract import (
    KINDS_BY_SUFFIX,
    DocumentRefused,
    ExtractedDocument,
    Kind,
    Problem,
    Section,
    extract,
)
from foundry_local_chat.documents.store import DocumentStore, Owner, search_terms
from tests.support.pdf_maker import encrypted_pdf, image_only_pdf, text_pdf

Message = dict[str, str]

CAT_FACT = "The lighthouse keeper's cat is called Marmalade and sleeps beside the lamp."
FILLER = [f"Ledger line {n}: the harbour crane lifted {n * 7} crates of timber." for n in range(30)]


def report_pages() -> list[list[str]]:
    """Five pages; the cat's name is only on page 3."""
    pages = [[f"Page {n} of the harbour report.", *FILLER] for n in range(1, 6)]
    pages[2].insert(5, CAT_FACT)
    return pages


# ----- extraction: any input is a document or a clear refusal -----

suffixes = st.sampled_from([*KINDS_BY_SUFFIX, ".docx", ".png", ""])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(suffix=suffixes, data=st.binary(max_size=4096))
def test_any_bytes_give_a_document_with_text_or_a_refusal_that_says_why(
    suffix: str, data: bytes
) -> None:
    try:
        document = extract(f"upload{suffix}", data)
    except DocumentRefused as refused:
        assert refused.name == f"upload{suffix}" and refused.problem in Problem
        return
    assert document.sections and all(section.text.strip() for section in document.sections)
    assert not any(0xD800 <= ord(c) <= 0xDFFF for s in document.sections for c in s.text)


pdf_prefixes = st.sampled_from([text_pdf([["Hello there."], ["Second page."]]), image_only_pdf()])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pdf=pdf_prefixes, cut=st.integers(0, 2000), noise=st.binary(max_size=64))
def test_a_damaged_pdf_is_refused_clearly_or_read(pdf: bytes, cut: int, noise: bytes) -> None:
    damaged = pdf[: len(pdf) - cut] + noise
    try:
        document = extract("damaged.pdf", damaged)
    except DocumentRefused as refused:
        assert refused.problem in {Problem.UNREADABLE, Problem.EMPTY, Problem.IMAGE_ONLY}
        return
    assert document.kind == Kind.PDF and all(s.page for s in document.sections)


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=3000), suffix=st.sampled_from([".txt", ".md", ".html"]))
def test_any_text_file_is_read_or_refused_as_empty(text: str, suffix: str) -> None:
    data = text.encode("utf-8", "surrogatepass")
    try:
        document = extract(f"notes{suffix}", data)
    except DocumentRefused as refused:
        assert refused.problem in {Problem.EMPTY, Problem.NOT_TEXT}
        return
    assert document.chars > 0


def test_a_pdf_keeps_its_pages_and_its_text() -> None:
    document = extract("report.pdf", text_pdf(report_pages()))
    assert document.pages == 5
    assert [section.page for section in document.sections] == [1, 2, 3, 4, 5]
    assert "Marmalade" in document.sections[2].text
    assert all("Marmalade" not in s.text for s in document.sections if s.page != 3)


def test_markdown_and_html_are_split_at_their_headings() -> None:
    markdown = extract("notes.md", b"Intro.\n\n# Cats\nMarmalade.\n\n```\n# not a heading\n```\n")
    assert [s.heading for s in markdown.sections] == [None, "Cats"]
    assert "# not a heading" in markdown.sections[1].text
    html = extract(
        "page.html",
        b"<html><head><title>T</title><script>var x = 1;</script></head><body>"
        b"<h1>Cats</h1><p>Marmalade &amp; Rex</p><h2>Dogs</h2><p>Fido</p></body></html>",
    )
    assert [(s.heading, s.text) for s in html.sections] == [
        ("Cats", "Cats\n\nMarmalade & Rex"),
        ("Dogs", "Dogs\n\nFido"),
    ]


@pytest.mark.parametrize(
    ("name", "data", "problem"),
    [
        ("locked.pdf", encrypted_pdf([["secret"]]), Problem.ENCRYPTED),
        ("scan.pdf", image_only_pdf(), Problem.IMAGE_ONLY),
        ("blank.pdf", text_pdf([[], []]), Problem.EMPTY),
        ("fake.pdf", b"this is not a pdf", Problem.UNREADABLE),
        ("empty.md", b" \n\n\t ", Problem.EMPTY),
        ("binary.txt", bytes(range(256)) * 4, Problem.NOT_TEXT),
        ("report.docx", b"PK\x03\x04", Problem.UNSUPPORTED),
    ],
)
def test_each_bad_file_is_refused_with_its_reason(name: str, data: bytes, problem: Problem) -> None:
    with pytest.raises(DocumentRefused) as refused:
        extract(name, data)
    assert refused.value.problem == problem


# ----- chunking -----

sections = st.lists(
    st.builds(
        Section,
        text=st.lists(
            st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=2500),
            min_size=1,
            max_size=4,
        ).map("\n\n".join),
        page=st.none() | st.integers(1, 500),
        heading=st.none() | st.text(min_size=1, max_size=30),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=200, deadline=None)
@given(sections=sections, limit=st.integers(20, CHUNK_CHARS))
def test_passages_hold_every_word_in_order_within_the_limit_and_their_section(
    sections: list[Section], limit: int
) -> None:
    document = ExtractedDocument("doc.md", Kind.MARKDOWN, tuple(sections))
    chunks = chunk(document, limit)
    assert [c.position for c in chunks] == list(range(len(chunks)))
    assert all(0 < len(c.text) <= limit for c in chunks)
    for section in sections:
        mine = [c for c in chunks if (c.page, c.section) == (section.page, section.heading)]
        joined = "".join("".join(c.text.split()) for c in mine)
        assert "".join(section.text.split()) in joined
    assert "".join("".join(c.text.split()) for c in chunks) == "".join(
        "".join(s.text.split()) for s in sections
    )


# ----- the store: retrieval and ownership -----


async def stored(owner: Owner, *documents: ExtractedDocument) -> DocumentStore:
    store = DocumentStore.in_memory()
    for document in documents:
        await store.add(owner, document, chunk(document))
    return store


async def test_a_question_about_page_three_finds_page_three_and_only_its_owner_does() -> None:
    alice = Owner("thread-1", "alice")
    report = extract("report.pdf", text_pdf(report_pages()))
    store = await stored(alice, report)
    [best, *_] = await store.search(alice, "What is the name of the lighthouse keeper's cat?", 3)
    assert (best.document, best.page) == ("report.pdf", 3) and "Marmalade" in best.text
    assert await store.search(Owner("thread-1", "bob"), "lighthouse cat", 3) == []
    assert await store.search(Owner("thread-2", "alice"), "lighthouse cat", 3) == []
    assert await store.delete_thread("thread-1") == 1
    assert await store.search(alice, "lighthouse cat", 3) == []
    assert await store.documents(alice) == []


@given(question=st.text(max_size=300))
@settings(max_examples=100, deadline=None)
def test_any_question_is_a_safe_search(question: str) -> None:
    terms = search_terms(question)
    assert all(re.fullmatch(r"\w+", term.text) for term in terms)
    assert len(terms) == len(set(terms))


async def test_a_new_version_of_a_file_replaces_the_old_one() -> None:
    owner = Owner("t", "alice")
    store = await stored(owner, extract("notes.md", b"# Cats\nThe cat is called Rex.\n"))
    other = Owner("t", "bob")
    await store.add(other, extract("notes.md", b"Bob's notes."), [])
    newer = extract("notes.md", b"# Cats\nThe cat is called Marmalade.\n")
    await store.add(owner, newer, chunk(newer))
    [document] = await store.documents(owner)
    assert document.name == "notes.md"
    [passage] = await store.passages(owner)
    assert "Marmalade" in passage.text and await store.search(owner, "Rex", 3) == []
    assert len(await store.documents(other)) == 1, "another owner's file of that name stays"


KOREAN_NOTES = (
    "# 등대\n\n등대지기의 고양이는 마멀레이드라고 불리며 등불 옆에서 잡니다.\n\n"
    "# 항구\n\n북쪽 부두의 만조는 네 시 십일 분입니다.\n"
).encode()


async def test_a_korean_question_finds_the_passage_whatever_particles_its_words_carry() -> None:
    owner = Owner("t")
    store = await stored(owner, extract("노트.md", KOREAN_NOTES))
    [best, *_] = await store.search(owner, "등대지기 고양이의 이름이 뭐예요?", 2)
    assert best.section == "등대" and "마멀레이드" in best.text
    [best, *_] = await store.search(owner, "북쪽 부두에서 만조는 언제인가요?", 2)
    assert best.section == "항구"


async def test_any_question_searches_without_error() -> None:
    owner = Owner("t")
    store = await stored(owner, extract("notes.md", b"# Cats\nMarmalade sleeps.\n"))
    for question in ['"', "NEAR(a b)", "*", "a OR", "^x", "cats:", "'; DROP TABLE documents; --"]:
        await store.search(owner, question, 3)
    assert len(await store.documents(owner)) == 1


# ----- what a request carries -----


def counted(messages: Sequence[Message]) -> int:
    """A stand-in tokenizer: one token per 4 characters, 5 per message, 3 to start the answer."""
    return sum(len(m["content"]) // 4 + 5 for m in messages) + 3


def window(context_length: int) -> ContextWindow:
    return ContextWindow(context_length, counted, max_token_bytes=4)


QUESTION = {"role": "user", "content": "What is the name of the lighthouse keeper's cat?"}


async def test_documents_that_fit_go_whole_with_their_exact_token_count() -> None:
    owner = Owner("t")
    store = await stored(owner, extract("notes.md", f"# Cats\n{CAT_FACT}\n".encode()))
    context = await document_context(store, owner, "Be brief.", QUESTION, 256, window(2000))
    assert context is not None and context.whole
    [system] = context.system
    assert system["content"].startswith("Be brief.\n\n") and CAT_FACT in system["content"]
    expected = counted([system, QUESTION]) - counted(
        [{"role": "system", "content": "Be brief."}, QUESTION]
    )
    assert context.document_tokens == expected
    assert [s.document for s in context.sources] == ["notes.md"]


async def test_documents_too_long_for_the_context_send_the_passages_that_match() -> None:
    owner = Owner("t")
    store = await stored(owner, extract("report.pdf", text_pdf(report_pages())))
    context = await document_context(store, owner, "Be brief.", QUESTION, 256, window(2000))
    assert context is not None and not context.whole
    assert context.sources[0].page == 3
    # The passages go with the question; the system message stays as it was (and stays read).
    assert context.system == [{"role": "system", "content": "Be brief."}]
    assert CAT_FACT.replace("'", "’") in context.question["content"]
    assert context.question["content"].endswith(f"Question:\n{QUESTION['content']}")
    assert context.document_tokens is not None
    assert context.document_tokens <= 2000 * RETRIEVAL_SHARE
    assert counted([*context.system, context.question]) + 256 <= 2000


async def test_without_exact_counts_a_few_passages_go_uncounted() -> None:
    owner = Owner("t")
    store = await stored(owner, extract("report.pdf", text_pdf(report_pages())))
    context = await document_context(store, owner, "", QUESTION, 256, None)
    assert context is not None and context.document_tokens is None and not context.whole
    assert context.sources[0].page == 3
    assert context.system == []
    assert context.question["content"].startswith("The user shared documents.")


async def test_a_question_with_no_matching_word_gets_each_documents_beginning() -> None:
    owner = Owner("t")
    store = await stored(owner, extract("report.pdf", text_pdf(report_pages())))
    context = await document_context(store, owner, "", {"role": "user", "content": "zzz"}, 256,
                                     window(2000))  # fmt: skip
    assert context is not None and [(s.page, s.position) for s in context.sources] == [(1, 0)]
