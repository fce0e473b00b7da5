"""A stored chat as a file: the JSON format (history/export.py) made from the thread as the
history keeps it, and the Markdown a person reads, in the words of their language.

What goes in: the chat's title, times, settings (its panel's, saved with every message) and
profile; each question and each answer (the app's notices, Chainlit's own steps and the
thinking steps are no conversation), an answer's model, speed line, versions and the names of
its sources; the names of the chat's documents, each with the question it came with. Their
text does not go in.

The Markdown shows who said what under a heading per message, and each message's text as a
quote: Markdown inside it still renders, but no message can pass for a heading of the file. The
title and every name are one line with their Markdown made inert; images anywhere become links
(ui/markdown_safety.py), so a viewer of the file fetches nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chainlit.types import ThreadDict

from foundry_local_chat.chat.backend import Profile
from foundry_local_chat.chat.turn import REFUSED_KEY, REPLY_MODEL_KEY
from foundry_local_chat.documents.store import ListedDocument
from foundry_local_chat.errors import shortened
from foundry_local_chat.history.export import (
    MAX_LIST_ITEMS,
    MAX_NAME_CHARS,
    MAX_STATS_CHARS,
    MAX_TITLE_CHARS,
    AssistantMessage,
    ChatExport,
    ChatSettings,
    Document,
    Message,
    UserMessage,
)
from foundry_local_chat.ui.answer_versions import SHOWN_KEY, VERSIONS_KEY
from foundry_local_chat.ui.markdown_safety import inert_images
from foundry_local_chat.ui.texts import Words, without_bidi_controls

DOCUMENTS_KEY = "documents"  # an imported question's documents, by name (ui/chat_import.py)
SOURCES_KEY = "sources"  # the names on an answer's sources line (chat_view.show_sources)


# -- the stored thread as the format ---------------------------------------------------------------


def _moment(value: object, default: datetime) -> datetime:
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return default
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return default


def _name(value: object) -> str:
    return shortened(str(value), MAX_NAME_CHARS) or "?"


def _names(values: object) -> list[str]:
    if not isinstance(values, list):
        return []
    return [_name(value) for value in values if str(value).strip()][:MAX_LIST_ITEMS]


def chat_export(
    thread: ThreadDict,
    documents: list[ListedDocument],
    top_p: float | None,
    now: datetime | None = None,
) -> ChatExport:
    """The thread as the format has it; `top_p`: what the app sends (the panel has none)."""
    now = now or datetime.now(UTC)
    created = _moment(thread.get("createdAt"), now)
    metadata = thread.get("metadata") or {}
    panel = metadata.get("chat_settings") if isinstance(metadata, Mapping) else None
    settings = _settings(panel if isinstance(panel, Mapping) else {}, top_p)
    messages: list[Message] = []
    added = sorted(documents, key=lambda d: d.added_at)
    for step in thread.get("steps") or []:
        message = _message(step, created, messages)
        if message is not None:
            messages.append(message)
    _attach_documents(messages, added, created)
    profile = metadata.get("chat_profile") if isinstance(metadata, Mapping) else None
    answers = [m for m in messages if isinstance(m, AssistantMessage)]
    return ChatExport.model_construct(  # a chat longer than the import takes is still exported
        title=shortened(thread.get("name") or "", MAX_TITLE_CHARS),
        created_at=created,
        exported_at=now,
        model=settings.model or (answers[-1].model if answers else None),
        chat_profile=profile if profile in {p.value for p in Profile} else None,
        settings=settings,
        documents=[_document_of(document, created) for document in added],
        messages=messages,
    )


def _document_of(document: ListedDocument, created: datetime) -> Document:
    return Document(
        name=_name(document.name),
        kind=shortened(document.kind, 16),
        pages=document.pages,
        added_at=_moment(document.added_at, created),
    )


def _settings(panel: Mapping[str, Any], top_p: float | None) -> ChatSettings:
    """The panel's values as saved; one that is not what the format takes is left out."""
    known: dict[str, Any] = {"top_p": top_p}
    for key in ("model", "system_prompt", "temperature", "max_tokens", "streaming"):
        if key in panel:
            try:
                ChatSettings.model_validate({key: panel[key]})
            except ValueError:
                continue
            known[key] = panel[key]
    return ChatSettings.model_validate(known)


def _message(step: Mapping[str, Any], created: datetime, messages: list[Message]) -> Message | None:
    metadata = step.get("metadata") or {}
    kind = step.get("type")
    content = str(step.get("output") or "")
    at = _moment(step.get("createdAt"), messages[-1].created_at if messages else created)
    if messages and at < messages[-1].created_at:  # the history orders by time as text, and
        at = messages[-1].created_at  # "…:01.5Z" comes before "…:01Z": the file keeps the order
    if kind == "user_message":
        return UserMessage(
            role="user", content=content, created_at=at, refused=bool(metadata.get(REFUSED_KEY)),
            documents=_names(metadata.get(DOCUMENTS_KEY)),
        )  # fmt: skip
    if kind != "assistant_message":
        return None
    if REPLY_MODEL_KEY not in metadata:
        sources = metadata.get(SOURCES_KEY)
        if sources and messages and isinstance(messages[-1], AssistantMessage):
            messages[-1].sources = _names(sources)  # the sources line under that answer
        return None
    answer = AssistantMessage(
        role="assistant", content=content, created_at=at,
        model=_name(metadata.get(REPLY_MODEL_KEY) or "?"),
        stats=shortened(str(metadata.get("stats") or ""), MAX_STATS_CHARS),
        backend=_name(metadata.get("backend") or "") if metadata.get("backend") else "",
        stopped=bool(metadata.get("stopped")),
    )  # fmt: skip
    versions, shown = metadata.get(VERSIONS_KEY), metadata.get(SHOWN_KEY)
    try:  # every version, when they agree with what the answer shows (the format checks)
        return AssistantMessage.model_validate(
            {**answer.model_dump(), "versions": versions, "shown_version": shown}
        )
    except ValueError:
        return answer


def _attach_documents(
    messages: list[Message], documents: list[ListedDocument], created: datetime
) -> None:
    """Each document with the question it came with: the last one asked before it was added
    (a question's files are read before it is answered, one answer at a time)."""
    questions = [m for m in messages if isinstance(m, UserMessage) and not m.documents]
    for document in documents:
        added = _moment(document.added_at, created)
        before = [q for q in questions if q.created_at <= added]
        if before and len(before[-1].documents) < MAX_LIST_ITEMS:
            before[-1].documents.append(_name(document.name))


# -- the Markdown ----------------------------------------------------------------------------------


_MARKDOWN = re.compile(r"([\\`*_\[\]<>|~#!])")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def one_line(text: str, limit: int = MAX_TITLE_CHARS) -> str:
    """A name or title inside the file's Markdown: one line, its Markdown and bidirectional
    controls inert (a title cannot add a heading, a link, an image or HTML)."""
    flat = shortened(_CONTROLS.sub(" ", without_bidi_controls(text)), limit)
    return _MARKDOWN.sub(r"\\\1", flat)


def quoted(text: str) -> str:
    """A message's own Markdown, inside a quote: it renders, but it starts no heading of the
    file; its images are links."""
    lines = inert_images(text.replace("\r\n", "\n").replace("\r", "\n")).split("\n")
    return "\n".join(f"> {line}" if line else ">" for line in lines)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _number(value: float) -> str:
    return f"{value:g}"


def chat_markdown(chat: ChatExport, user: str, said: Words) -> str:
    """The chat for a person to read: title, date, model and settings, then every message under
    who said it and when."""
    settings = chat.settings
    lines = [f"# {one_line(chat.title) or '…'}", ""]
    facts = [(said.export_date, _when(chat.created_at))]
    if chat.model:
        facts.append((said.model, one_line(chat.model)))
    if chat.chat_profile:
        facts.append((said.export_chat_profile, one_line(chat.chat_profile)))
    if settings.temperature is not None:
        facts.append((said.temperature, _number(settings.temperature)))
    if settings.max_tokens is not None:
        facts.append((said.max_tokens, str(settings.max_tokens)))
    if settings.top_p is not None:
        facts.append((said.export_top_p, _number(settings.top_p)))
    if settings.streaming is not None:
        facts.append((said.stream_the_answer, said.export_on if settings.streaming
                      else said.export_off))  # fmt: skip
    if chat.documents:
        facts.append((said.export_documents, ", ".join(_document(d, said) for d in chat.documents)))
    lines += [f"- **{label}:** {value}" for label, value in facts]
    if settings.system_prompt is not None:
        prompt = settings.system_prompt.strip()
        shown = quoted(prompt) if prompt else said.export_none
        lines += ["", f"**{said.system_prompt}:**", "", shown]
    lines += ["", "---"]
    for message in chat.messages:
        lines += ["", *_turn(message, user, said)]
    exported = _when(chat.exported_at) if chat.exported_at else ""
    lines += ["", "---", "", f"*{said.export_footer.format(time=exported)}*", ""]
    return "\n".join(lines)


def _document(document: Document, said: Words) -> str:
    pages = f" ({said.export_pages.format(pages=document.pages)})" if document.pages else ""
    return f"{one_line(document.name, MAX_NAME_CHARS)}{pages}"


def _turn(message: Message, user: str, said: Words) -> list[str]:
    when = _when(message.created_at)
    if isinstance(message, UserMessage):
        refused = f" {said.export_refused}" if message.refused else ""
        lines = [f"### 👤 {one_line(user, MAX_NAME_CHARS)} · {when}{refused}", "",
                 quoted(message.content)]  # fmt: skip
        if message.documents:
            files = ", ".join(one_line(name, MAX_NAME_CHARS) for name in message.documents)
            lines += ["", f"📎 {said.export_attached.format(files=files)}"]
        return lines
    lines = [f"### 🤖 {one_line(message.model, MAX_NAME_CHARS)} · {when}", ""]
    if not message.versions:
        lines += _answer(message.content, message.stats)
    for number, version in enumerate(message.versions, start=1):
        heading = said.export_version.format(number=number, count=len(message.versions))
        if number - 1 == message.shown_version:
            heading += f" ({said.export_version_shown})"
        lines += [f"#### {heading}", "", *_answer(version.content, version.stats), ""]
    if message.sources:
        names = ", ".join(one_line(name, MAX_NAME_CHARS) for name in message.sources)
        lines += ["", f"📄 {said.export_sources.format(names=names)}"]
    return lines


def _answer(content: str, stats: str) -> list[str]:
    lines = [quoted(content)]
    if stats:
        lines += ["", f"*{one_line(stats, MAX_STATS_CHARS)}*"]
    return lines
