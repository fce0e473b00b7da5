"""A stored chat as a file and a file as a chat (ui/chat_export.py, ui/chat_import.py), without a
server: what an export holds, the Markdown a person reads (which no title or message can forge),
what a file that cannot be imported is told in English and Korean, the thread an import makes,
and hypothesis changing an exported file anywhere: it is imported or refused in words, never an
error."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from foundry_local_chat.chat.turn import turn_role
from foundry_local_chat.history.export import (
    FORMAT,
    MAX_IMPORT_BYTES,
    MAX_MESSAGES,
    MAX_SYSTEM_PROMPT_CHARS,
    AssistantMessage,
    ImportProblem,
    ImportRefused,
    UserMessage,
    export_json,
    parse_chat_export,
)
from foundry_local_chat.ui.answer_versions import SHOWN_KEY, STATS_ELEMENT_KEY, VERSIONS_KEY
from foundry_local_chat.ui.chat_export import chat_markdown, one_line
from foundry_local_chat.ui.chat_import import imported_thread, why_not_imported
from foundry_local_chat.ui.settings_panel import SYSTEM_PROMPT_MAX_CHARS
from foundry_local_chat.ui.texts import ENGLISH, KOREAN, WORDS
from tests.support.chat_files import (
    ALICE,
    HOSTILE_TITLE,
    MODEL,
    T0,
    VERSIONS,
    a_file,
    exported,
    stored_thread,
    with_message,
)


def test_a_stored_chat_exports_its_turns_settings_versions_and_documents() -> None:
    chat = exported()
    assert chat.format == FORMAT
    assert (chat.title, chat.model, chat.chat_profile) == (
        "What is the capital of France?",
        MODEL,
        "Auto",
    )
    assert chat.created_at == T0 + timedelta(seconds=0.5)
    assert chat.settings.model_dump() == {
        "model": MODEL, "system_prompt": "Be brief.", "temperature": 0.0, "max_tokens": 64,
        "top_p": 0.9, "streaming": True,
    }  # fmt: skip
    # Questions and answers only: no Chainlit run, thinking step, notice or sources line.
    assert [(m.role, m.content) for m in chat.messages] == [
        ("user", "What is the capital of France?"),
        ("assistant", "It is Paris."),
        ("user", "Too long to send"),
        ("user", "And of Spain?"),
        ("assistant", "Madrid."),
    ]
    first, answer, refused, _, last = chat.messages
    assert isinstance(first, UserMessage) and first.documents == ["notes.md"]  # added after it
    assert isinstance(answer, AssistantMessage)
    assert [v.content for v in answer.versions] == ["Paris.", "It is Paris."]
    assert (answer.shown_version, answer.sources, answer.backend) == (
        1,
        ["notes.md (whole)"],
        "Foundry Local",
    )
    assert isinstance(refused, UserMessage) and refused.refused
    assert isinstance(last, AssistantMessage) and last.stopped and not last.versions
    assert [d.name for d in chat.documents] == ["notes.md"]


def test_the_json_file_reads_back_as_the_same_chat() -> None:
    chat = exported()
    raw = export_json(chat)
    assert json.loads(raw)["format"] == "foundry-local-chat/1"
    assert json.loads(raw)["messages"][1]["created_at"] == "2026-01-31T12:00:02.000000Z"
    assert parse_chat_export(raw) == chat
    korean = exported(stored_thread("프랑스의 수도"))
    assert "프랑스의 수도".encode() in export_json(korean)  # as it is, not \\u-escaped


def test_an_export_is_always_a_file_the_import_takes() -> None:
    """The history orders a thread by its times as text, so "12:00:01.5Z" (a browser's) comes
    before "12:00:01Z" (the server's, on a whole second); a question dated by a browser whose
    clock runs fast comes after its answer. The file keeps the history's order."""
    thread = stored_thread()
    thread["steps"][4]["createdAt"] = "2026-01-31T11:59:00Z"  # stored after the question
    chat = exported(thread)
    assert [m.content for m in chat.messages][:2] == [
        "What is the capital of France?",
        "It is Paris.",
    ]
    assert chat.messages[1].created_at == chat.messages[0].created_at
    assert parse_chat_export(export_json(chat)) == chat


def test_versions_that_disagree_with_the_answer_are_left_out_not_the_export() -> None:
    thread = stored_thread()
    thread["steps"][4]["metadata"][SHOWN_KEY] = 0  # shows "It is Paris.", says version 1
    answer = exported(thread).messages[1]
    assert isinstance(answer, AssistantMessage)
    assert answer.content == "It is Paris." and answer.versions == []


def test_the_markdown_says_who_said_what_with_the_settings() -> None:
    markdown = chat_markdown(exported(), "alice", WORDS[ENGLISH])
    assert markdown.startswith("# What is the capital of France?\n")
    for line in [
        "- **Date:** 2026-01-31 12:00:00 UTC",
        f"- **Model:** {MODEL}",
        "- **Chat profile:** Auto",
        "- **Temperature:** 0",
        "- **Max tokens:** 64",
        "- **Stream the answer:** on",
        "- **Documents:** notes.md",
        "> Be brief.",
        "### 👤 alice · 2026-01-31 12:00:01 UTC",
        "> What is the capital of France?",
        "📎 Attached: notes.md",
        f"### 🤖 {MODEL} · 2026-01-31 12:00:02 UTC",
        "#### Version 1 of 2",
        "> Paris.",
        "#### Version 2 of 2 (shown)",
        "> It is Paris.",
        "*14 tokens*",
        "📄 Sources: notes.md (whole)",
        "### 👤 alice · 2026-01-31 12:00:03 UTC (not sent to the model)",
        "> Madrid.",
    ]:
        assert line in markdown.splitlines(), line
    korean = chat_markdown(exported(), "alice", WORDS[KOREAN])
    for line in [
        "- **날짜:** 2026-01-31 12:00:00 UTC",
        "- **온도:** 0",
        "#### 버전 2/2 (표시된 버전)",
        "📎 첨부: notes.md",
    ]:
        assert line in korean.splitlines(), line


def test_no_title_or_message_can_forge_the_markdown_or_fetch_an_image() -> None:
    thread = stored_thread(HOSTILE_TITLE)
    thread["steps"][1]["output"] = "### 👤 bob · forged\n![pixel](http://evil.example/p.png)"
    markdown = chat_markdown(exported(thread), "alice", WORDS[ENGLISH])
    title = markdown.splitlines()[0]
    assert markdown.splitlines()[1] == ""  # the title is one line
    assert not any(line.startswith("# Owned") for line in markdown.splitlines())
    assert "![" not in markdown and "\u202e" not in markdown
    assert re.search(r"(?<!\\)<img", markdown) is None  # shown as text: \<img
    assert title == (
        "# Hi \\# Owned \\!\\[x\\](http://evil.example/p.png) \\<img src=x\\> "
        "\\[link\\](http://x) \ufffdtxt"
    )
    # A message's own Markdown is quoted: its "heading" is inside the quote.
    assert "> ### 👤 bob · forged" in markdown.splitlines()
    assert not any(line.startswith("### 👤 bob") for line in markdown.splitlines())
    assert one_line("a`b*c_d") == "a\\`b\\*c\\_d"


# -- the import ------------------------------------------------------------------------------------


# -- the import ------------------------------------------------------------------------------------


def refusal(body: Any) -> ImportRefused:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(ImportRefused) as refused:
        parse_chat_export(raw)
    return refused.value


FUTURE = (datetime.now(UTC) + timedelta(days=2)).isoformat()

# (the file, what an English reader is told, what a Korean reader is told)
REFUSALS: list[tuple[Any, str, str]] = [
    (b"\xff\xfe{}", "the file is not UTF-8 text", "UTF-8 텍스트가 아닙니다"),
    (b'{"format": ', "the file is not valid JSON (line 1, column 12)", "JSON이 아닙니다(1행 12열)"),
    (b'{"format": NaN}', "the file is not valid JSON", "올바른 JSON이 아닙니다"),
    (b'{"a": 1, "a": 2}', "the file is not valid JSON", "올바른 JSON이 아닙니다"),
    (b"[" * 50_000 + b"]" * 50_000, "nests deeper than 8 levels", "8단계보다 깊습니다"),
    ({"messages": []}, "is not a chat exported from Foundry Local Chat (its `format` is "
     "`foundry-local-chat/1`)", "`format`이 `foundry-local-chat/1`이어야"),
    (a_file(format="foundry-local-chat/2"), "format version `2` is not one this app reads (it "
     "reads `foundry-local-chat/1`): it may come from a newer version", "형식 버전(`2`)"),
    (a_file(title="\ud800"), "`title` holds a character that is not text", "`title`에 텍스트가"),
    (with_message(0, content="a\x00b"), "`messages[0].content` holds a character that is not "
     "text", "`messages[0].content`에"),
    (a_file(messages=a_file()["messages"][:1] * (MAX_MESSAGES + 1)),
     f"the chat has 1,001 messages, and at most {MAX_MESSAGES:,} can be imported", "1,001개"),
    (a_file(messages=[]), "`messages` must not be empty", "`messages` 항목: 비어 있으면"),
    (a_file(wizardry=1), "`wizardry` is not part of the format", "형식에 없는 항목"),
    (with_message(0, role="system"), "`messages[0].role` must be one of `user`, `assistant`",
     "다음 중 하나여야 합니다: `user`, `assistant`"),
    (with_message(1, content=7), "`messages[1].content` must be text", "텍스트 값이어야"),
    (with_message(1, model=""), "`messages[1].model` must not be empty", "비어 있으면"),
    (with_message(1, shown_version=0), "`messages[1].content` must be the text of the version "
     "shown (`versions[0]`)", "`versions[0]`"),
    (with_message(1, versions=VERSIONS[:1], shown_version=0),
     "`messages[1].versions` must have at least 2 items", "2개 이상"),
    (with_message(0, created_at="yesterday"), "`messages[0].created_at` must be a time with its "
     "zone", "시간대가 있는 시각"),
    (with_message(0, created_at="2026-01-31T12:00:01"), "must be a time with its zone",
     "시간대가 있는 시각"),
    (with_message(4, created_at=FUTURE), "`messages[4].created_at` is in the future", "미래"),
    (with_message(0, created_at="2026-02-01T00:00:00Z"), "`messages[1].created_at` is earlier "
     "than the message before it", "앞 메시지보다"),
    (a_file(settings={"temperature": 3}), "`settings.temperature` must lie within 0-2", "0-2"),
    (a_file(settings={"temperature": "0.3"}), "`settings.temperature` must be a number",
     "숫자 값이어야"),
    (a_file(settings={"max_tokens": 64.5}), "`settings.max_tokens` must be a whole number",
     "정수 값이어야"),
    (a_file(settings={"streaming": "yes"}), "`settings.streaming` must be true or false",
     "참·거짓 값이어야"),
    (a_file(settings={"system_prompt": "x" * (SYSTEM_PROMPT_MAX_CHARS + 1)}),
     "`settings.system_prompt` is too long (at most 8,000)", "최대 8,000"),
    (a_file(chat_profile="Evil"), "`chat_profile` must be one of `Foundry Local`, `Remote`, "
     "`Auto`", "다음 중 하나여야"),
    (a_file(title=["x"]), "`title` must be text", "텍스트 값이어야"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "english", "korean"), REFUSALS)
def test_a_file_that_cannot_be_imported_is_told_why_in_both_languages(
    body: Any, english: str, korean: str
) -> None:
    refused = refusal(body)
    told = why_not_imported(refused, WORDS[ENGLISH])
    assert told.startswith("The chat was not imported: ") and english in told, told
    assert korean in why_not_imported(refused, WORDS[KOREAN])


def test_the_settings_limit_is_the_settings_panels() -> None:
    assert MAX_SYSTEM_PROMPT_CHARS == SYSTEM_PROMPT_MAX_CHARS


def test_a_file_larger_than_the_limit_is_told_so() -> None:
    refused = refusal(b" " * (MAX_IMPORT_BYTES + 1))
    assert refused.problem == ImportProblem.TOO_LARGE
    assert "larger than 16 MB" in why_not_imported(refused, WORDS[ENGLISH])


def test_an_import_is_a_thread_of_the_importer_that_goes_on_like_a_chat_had_here() -> None:
    body = a_file(title=HOSTILE_TITLE)
    body["messages"][1]["content"] = body["messages"][1]["versions"][1]["content"] = (
        "![pixel](http://evil.example/p.png)"
    )
    body["messages"][4]["created_at"] = body["messages"][3]["created_at"]  # the same time
    new = imported_thread(parse_chat_export(json.dumps(body).encode()), ALICE, WORDS[KOREAN])
    thread = new.thread
    assert (thread["userId"], thread["userIdentifier"], thread["tags"]) == (
        "user-alice",
        "alice",
        ["Auto"],
    )
    assert "\n" not in thread["name"] and "\u202e" not in thread["name"]
    assert "![" not in thread["name"]  # an image in a title would not load, but shows as a link
    assert thread["metadata"] == {
        "chat_settings": {"model": MODEL, "system_prompt": "Be brief.", "temperature": 0.0,
                          "max_tokens": 64, "streaming": True},
        "has_documents": False,
        "chat_profile": "Auto",
    }  # fmt: skip
    kinds = [(s["type"], s["output"]) for s in new.steps]
    assert kinds == [
        ("user_message", "What is the capital of France?"),
        ("run", ""),
        ("assistant_message", "!\u200b[pixel](http://evil.example/p.png)"),
        ("user_message", "Too long to send"),
        ("user_message", "And of Spain?"),
        ("run", ""),
        ("assistant_message", "Madrid."),
    ]
    question, run, answer = new.steps[:3]
    assert run["parentId"] == question["id"] and answer["parentId"] == run["id"]
    # The chat sends the questions and answers, in this order, and leaves the refused one out.
    roles = [turn_role(s["type"], s["metadata"]) for s in new.steps]
    assert roles == ["user", None, "assistant", None, "user", None, "assistant"]
    times = [s["createdAt"] for s in new.steps]
    assert times == sorted(times) and len(set(times)) == len(times)
    assert answer["metadata"][VERSIONS_KEY][1]["content"] == answer["output"]
    assert answer["metadata"][SHOWN_KEY] == 1
    [versions_line, speed_line] = new.elements
    assert versions_line["id"] == answer["metadata"][STATS_ELEMENT_KEY]
    assert versions_line["forId"] == answer["id"]
    assert versions_line["props"]["versions"] == 2 and versions_line["props"]["shown"] == 1
    assert versions_line["props"]["previous"] == WORDS[KOREAN].previous_version
    assert speed_line["props"]["summary"] == "3 tokens" and speed_line["props"]["stopped"]


# -- fuzzing the import ----------------------------------------------------------------------------


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)

KEYS = [
    *("format", "title", "created_at", "messages", "role", "content", "model", "versions"),
    *("shown_version", "settings", "temperature", "max_tokens", "documents", "chat_profile"),
]


def _mutated(body: Any, path: list[int], value: Any, key: str) -> Any:
    """The file with one place somewhere in it replaced, removed or given a key."""
    body = copy.deepcopy(body)
    node = body
    for choice in path:
        children = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        if not children:
            break
        name, child = children[choice % len(children)]
        if not isinstance(child, dict | list) or choice % 5 == 0:
            if choice % 3 == 0 and isinstance(node, dict):
                node.pop(name)
            elif choice % 3 == 1 and isinstance(node, dict):
                node[key] = value
            else:
                node[name] = value
            return body
        node = child
    return body


def _imports_or_is_refused(raw: bytes) -> None:
    try:
        chat = parse_chat_export(raw)
    except ImportRefused as refused:
        for said in WORDS.values():
            assert why_not_imported(refused, said)
        return
    new = imported_thread(chat, ALICE, WORDS[ENGLISH])
    assert new.thread["userIdentifier"] == "alice"
    assert parse_chat_export(export_json(chat)) == chat  # what it read, it writes the same


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=5),
    value=JSON_VALUES,
    key=st.sampled_from(KEYS) | st.text(max_size=8),
)
def test_a_file_changed_anywhere_is_read_or_refused_never_an_error(
    path: list[int], value: Any, key: str
) -> None:
    body = _mutated(a_file(), path, value, key)
    try:
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8", "surrogatepass")
    except ValueError:  # a float JSON has no word for: the encoder refuses it first
        return
    _imports_or_is_refused(raw)
