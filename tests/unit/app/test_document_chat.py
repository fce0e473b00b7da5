"""Documents in a chat, in-process (app.py's handlers in a real Chainlit session, a scripted model
server): what the model is sent for a question about an attached file, the sources shown under
the answer, the speed line's document tokens, and the line each bad file gets, in English and
Korean. The same through `chainlit run` and the real model: e2e/test_documents.py."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from chainlit.config import config as chainlit_config

from foundry_local_chat.chat.context_window import ContextWindow
from foundry_local_chat.config import ConfigError, Settings
from foundry_local_chat.documents.store import DocumentStore
from foundry_local_chat.ui.texts import ENGLISH, KOREAN, WORDS
from tests.support.fake_chat import APP_NOTICE, ChatApp, FakeChat, Turn, chat_app
from tests.support.pdf_maker import encrypted_pdf, image_only_pdf, text_pdf
from tests.support.scripted_model import ScriptedModel

Message = dict[str, str]
CAT_FACT = "The lighthouse keeper's cat is called Marmalade and sleeps beside the lamp."
TIDE_FACT = "High tide at the north pier comes at eleven minutes past four."


def report() -> bytes:
    """Six pages of filler; the cat is on page 3, the tide on page 5."""
    pages = [
        [f"Page {n}: harbour ledger."]
        + [f"Line {i}: the crane lifted {i * n} crates of timber and rope." for i in range(30)]
        for n in range(1, 7)
    ]
    pages[2].insert(10, CAT_FACT)
    pages[4].insert(10, TIDE_FACT)
    return text_pdf(pages)


def counted(messages: Sequence[Message]) -> int:
    """A stand-in tokenizer: one token per 4 characters, 5 per message, 3 to start the answer."""
    return sum(len(m["content"]) // 4 + 5 for m in messages) + 3


@pytest.fixture
def model() -> ScriptedModel:
    return ScriptedModel("tiny:1")


@pytest.fixture
async def app(
    model: ScriptedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[ChatApp]:
    async with chat_app(model, tmp_path, SYSTEM_PROMPT="Be brief.", DOCUMENT_MAX_FILES="3",
                        DOCUMENT_MAX_MB="0.5") as running:  # fmt: skip
        # The model's context: 2,000 tokens, counted by the stand-in tokenizer.
        async def context_window(*_: object) -> ContextWindow:
            return ContextWindow(2000, counted, max_token_bytes=4)

        monkeypatch.setattr(running.state.profiles, "context_window", context_window)
        yield running


@pytest.fixture
async def chat(app: ChatApp) -> AsyncIterator[FakeChat]:
    tab = FakeChat(app)
    await tab.start()
    yield tab
    await tab.close()


def lines(turn: Turn) -> list[str]:
    """The app's lines that stayed in the chat (the "Reading …" status goes once done)."""
    deleted = {m["id"] for m in turn.of("delete_message")}
    return [
        m["output"] for m in turn.of("new_message")
        if m.get("name") == APP_NOTICE and m["id"] not in deleted
        and not (m.get("metadata") or {}).get("sources")
    ]  # fmt: skip


def system_of(request: dict[str, object]) -> str:
    messages = request["messages"]
    assert isinstance(messages, list) and messages[0]["role"] == "system"
    return str(messages[0]["content"])


async def test_a_question_about_page_three_sends_that_passage_and_shows_it_as_the_source(
    chat: FakeChat, model: ScriptedModel
) -> None:
    uploaded = await chat.say("", files=[("report.pdf", report())])
    assert model.requests == [], "a message with only files asks the model nothing"
    assert lines(uploaded) == [
        WORDS[ENGLISH].document_ready.format(file="report.pdf", passages=12, pages=" from 6 pages")
    ]
    assert uploaded.notices[0] == "Reading report.pdf"
    model.enqueue("Marmalade.")
    turn = await chat.say("What is the name of the lighthouse keeper's cat?")

    system_message, *_, question = model.requests[-1]["messages"]
    asked = question["content"]
    # The passages go with the question: the system message stays the same (and stays read).
    assert system_message["content"] == "Be brief."
    assert "[report.pdf, page 3]" in asked and "Marmalade" in asked and "High tide" not in asked
    assert turn.answer == "Marmalade."
    sources = turn.sources
    assert sources is not None and sources["metadata"]["sources"][0] == "report.pdf, page 3"
    assert "Marmalade" in turn.source_texts["report.pdf, page 3"]
    sent = counted([system_message, question]) - counted(
        [
            system_message,
            {"role": "user", "content": "What is the name of the lighthouse keeper's cat?"},
        ]
    )
    assert f"documents {sent:,} tokens" in turn.speed_line

    model.enqueue("Four.")
    await chat.say("When is high tide at the north pier?")
    *earlier, follow_up = model.requests[-1]["messages"]
    assert "High tide" in follow_up["content"] and "[report.pdf, page 5]" in follow_up["content"]
    assert "Marmalade" not in follow_up["content"]
    # The earlier question is repeated as it was sent, passages and all: the endpoint's kept
    # conversation still matches, and only the new question is read.
    assert earlier == [system_message, question, {"role": "assistant", "content": "Marmalade."}]


async def test_a_small_document_is_sent_whole(chat: FakeChat, model: ScriptedModel) -> None:
    notes = f"# Cats\n{CAT_FACT}\n\n# Tides\n{TIDE_FACT}\n".encode()
    model.enqueue("Marmalade.")
    turn = await chat.say("What is the cat called?", files=[("notes.md", notes)])
    system = system_of(model.requests[-1])
    assert "[notes.md (whole)]" in system and CAT_FACT in system and TIDE_FACT in system
    assert turn.sources is not None and turn.sources["metadata"]["sources"] == ["notes.md"]
    model.enqueue("Ok.")
    await chat.say("Thanks.")
    assert CAT_FACT in system_of(model.requests[-1]), "kept for the rest of the chat"


async def test_documents_out_of_reach_are_said_and_the_question_answered_without_them(
    chat: FakeChat, model: ScriptedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The history database holding a chat's documents is down: one line says the answer comes
    without them, and the chat goes on; once it is back, they are used again."""
    notes = f"# Cats\n{CAT_FACT}\n".encode()
    model.enqueue("Marmalade.")
    await chat.say("What is the cat called?", files=[("notes.md", notes)])

    async def unreachable(*_: object, **__: object) -> None:
        raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")

    with monkeypatch.context() as outage:
        for method in ("documents", "passages", "search", "look_up"):
            outage.setattr(DocumentStore, method, unreachable)
        model.enqueue("A cat.")
        turn = await chat.say("And what does it do?")
    assert turn.answer == "A cat."
    assert WORDS[ENGLISH].documents_unreachable in turn.notices
    assert CAT_FACT not in system_of(model.requests[-1]) and turn.sources is None

    model.enqueue("It sleeps.")
    await chat.say("And what does it do?")
    assert CAT_FACT in system_of(model.requests[-1])


@pytest.mark.parametrize("language", [ENGLISH, KOREAN])
async def test_each_bad_file_gets_its_line_and_the_chat_goes_on(
    app: ChatApp, model: ScriptedModel, language: str
) -> None:
    said = WORDS[language]
    chat = FakeChat(app, language="ko-KR" if language == KOREAN else "en-US")
    await chat.start()
    files = [
        ("locked.pdf", encrypted_pdf([["secret"]])),
        ("scan.pdf", image_only_pdf()),
        ("blank.md", b"   \n\n"),
    ]
    refused = await chat.say("", files=files)
    more = await chat.say("", files=[("fake.pdf", b"not a pdf"), ("big.txt", b"x" * 600_000),
                                     ("photo.docx", b"PK"), ("four.txt", b"4")])  # fmt: skip
    await chat.close()
    assert lines(refused) == [
        said.document_encrypted.format(file="locked.pdf"),
        said.document_image_only.format(file="scan.pdf"),
        said.document_empty.format(file="blank.md"),
    ]
    unreadable, too_large, unsupported, too_many = lines(more)
    assert unreadable.startswith(said.document_unreadable.split("{detail}")[0].format(
        file="fake.pdf"))  # fmt: skip
    assert too_large == said.document_too_large.format(file="big.txt", limit="0.5")
    assert unsupported == said.document_unsupported.format(
        file="photo.docx", kinds="`.txt`, `.md`, `.pdf`, `.html`"
    )
    assert too_many == said.document_too_many.format(file="four.txt", limit="3")
    assert model.requests == []


async def test_a_question_whose_files_all_failed_is_not_answered_and_the_chat_goes_on(
    chat: FakeChat, model: ScriptedModel
) -> None:
    turn = await chat.say("What does it say?", files=[("scan.pdf", image_only_pdf())])
    said = WORDS[ENGLISH]
    assert lines(turn) == [said.document_image_only.format(file="scan.pdf"), said.no_file_read]
    assert turn.answer is None and model.requests == []  # not answered as if it had been read
    model.enqueue("Hello.")
    turn = await chat.say("Hi there.")
    assert turn.answer == "Hello." and turn.sources is None
    assert system_of(model.requests[-1]) == "Be brief."
    assert [m["content"] for m in model.requests[-1]["messages"][1:]] == ["Hi there."]
    assert "documents" not in turn.speed_line


async def test_without_history_a_chats_documents_are_its_own(
    app: ChatApp, model: ScriptedModel
) -> None:
    first, second = FakeChat(app), FakeChat(app)
    await first.start()
    await second.start()
    await first.say("", files=[("notes.md", f"# Cats\n{CAT_FACT}\n".encode())])
    model.enqueue("I do not know.")
    turn = await second.say("What is the lighthouse keeper's cat called?")
    assert "Marmalade" not in str(model.requests[-1]["messages"]) and turn.sources is None
    await first.close()
    await second.close()


async def test_the_welcome_screen_states_the_upload_limits(app: ChatApp) -> None:
    profiles = await app.module.chat_profiles(None, "ko-KR")
    line = WORDS[KOREAN].documents_welcome.format(
        count=3, size="0.5", kinds="`.txt`, `.md`, `.pdf`, `.html`"
    )
    assert all(line in profile.markdown_description for profile in profiles)


def test_chainlits_upload_button_and_route_take_the_limits_from_the_settings(app: ChatApp) -> None:
    uploads = chainlit_config.features.spontaneous_file_upload
    limits = app.module.settings.documents  # what app.py read at import
    assert uploads is not None and uploads.enabled
    assert (uploads.max_files, uploads.max_size_mb) == (limits.max_files, math.ceil(limits.max_mb))


@pytest.mark.parametrize(
    ("variable", "value"),
    [("DOCUMENT_MAX_FILES", "0"), ("DOCUMENT_MAX_FILES", "many"), ("DOCUMENT_MAX_MB", "-1")],
)
def test_upload_limits_out_of_range_are_refused_by_name(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({variable: value})
