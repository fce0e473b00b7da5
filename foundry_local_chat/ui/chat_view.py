"""How a chat looks in Chainlit: notices, progress, the settings panel, and a streamed answer
with its thinking step and speed line. The handlers in app.py decide what to do; this module
only shows it."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import chainlit as cl
from chainlit.data import get_data_layer
from chainlit.input_widget import Select, Slider, Switch, TextInput
from chainlit.utils import utc_now

from foundry_local_chat.answers.checkpoints import Checkpoints, save_to_history
from foundry_local_chat.answers.live import CUT_KEY, CutReason, LiveAnswer
from foundry_local_chat.chat.answer_queue import AnswerQueue
from foundry_local_chat.chat.answer_stream import AnswerStream, Piece
from foundry_local_chat.chat.backend import (
    Backend,
    BackendUnavailable,
    LocalStatus,
    Problem,
    Profile,
    ProfileStatus,
    RemoteStatus,
    Unavailable,
)
from foundry_local_chat.chat.context_window import FittedRequest, MessageTooLong
from foundry_local_chat.chat.loop_guard import LoopGuard
from foundry_local_chat.chat.turn import (
    REFUSED_KEY,
    REPLY_MODEL_KEY,
    ChatError,
    ChatOptions,
    ContextExceeded,
    Failure,
    ReadingPrompt,
    ReplyStats,
    ServerBusy,
    stream_reply,
)
from foundry_local_chat.config import DocumentLimits
from foundry_local_chat.documents.context import DocumentContext
from foundry_local_chat.documents.extract import SUPPORTED_SUFFIXES, DocumentRefused
from foundry_local_chat.documents.extract import Problem as DocumentProblem
from foundry_local_chat.documents.intake import Upload, take_in
from foundry_local_chat.documents.reader import DocumentReader
from foundry_local_chat.documents.store import DocumentStore, Owner, Passage
from foundry_local_chat.errors import shortened
from foundry_local_chat.history.chat_documents import DocumentsUnreachable
from foundry_local_chat.history.data_layer import SaveTrouble, SaveTroubleKind
from foundry_local_chat.models.facts import KOREAN_MODEL_EXAMPLE, ModelFacts, facts_for
from foundry_local_chat.models.local_models import LocalModels
from foundry_local_chat.ui import chat_session as session
from foundry_local_chat.ui.answer_versions import (
    SHOWN_KEY,
    STATS_ELEMENT_KEY,
    VERSIONS_KEY,
    offer_regenerate,
    stats_element,
    version_of,
)
from foundry_local_chat.ui.markdown_safety import ImageBreaker, inert_images
from foundry_local_chat.ui.settings_panel import MAX_TOKENS_RANGE, TEMPERATURE_RANGE
from foundry_local_chat.ui.texts import (
    ENGLISH_STARTERS_IN_KOREAN,
    HANGUL,
    KOREAN,
    KOREAN_TO_A_MODEL_WITHOUT_KOREAN,
    QUOTE_CHARS,
    STARTERS,
    WORDS,
    Words,
    language_of,
    shown_name,
    without_bidi_controls,
    words_for,
)

log = logging.getLogger(__name__)

READING_NOTICE_SECONDS = 1.0  # a prompt read faster than this is not worth a notice

APP_AUTHOR = "Foundry Local Chat"


def words() -> Words:
    """The app's words in this chat's language (the browser's, as Chainlit detected it)."""
    return words_for(getattr(cl.context.session, "language", None))


async def notice(content: str) -> cl.Message:
    """A message from the app itself: shown in the chat, never sent to the model (see turn_role)."""
    message = cl.Message(content=content, author=APP_AUTHOR)
    await message.send()
    return message


class ChatProgress:
    """A long task's stage (and percent while downloading), shown in this chat until it is done.

    Called as a Progress on the chat's event loop; each chat has its own, so two chats preparing
    different models each see their own work."""

    def __init__(self, title: str, last: tuple[str, float | None] = ("waiting", None)) -> None:
        self.title = title
        self.last = last
        self._changed = asyncio.Event()

    def __call__(self, stage: str, percent: float | None) -> None:
        self.last = (stage, percent)
        self._changed.set()

    async def shown_until_done(self, work: asyncio.Future[Any]) -> None:
        status = await notice(f"{self.title}…")
        while not work.done():
            stage, percent = self.last
            status.content = f"{self.title}: {stage}" + (
                f" {percent:.0f}%" if percent is not None else "…"
            )
            await status.update()
            self._changed.clear()
            next_change = asyncio.ensure_future(self._changed.wait())
            await asyncio.wait({work, next_change}, return_when=asyncio.FIRST_COMPLETED)
            next_change.cancel()
        await status.remove()


async def show_start(local: LocalModels) -> None:
    """Show Foundry Local's start in this chat until it is done (every waiting chat sees it)."""
    progress = ChatProgress(words().starting_foundry, local.startup_progress)
    unsubscribe = local.on_startup_progress(progress)
    try:
        await progress.shown_until_done(asyncio.ensure_future(local.wait_started()))
    finally:
        unsubscribe()


async def prepare_model(local: LocalModels, model: str) -> None:
    """Download and load a Foundry Local model, with its progress shown in this chat only.
    Raises FoundryStartError."""
    progress = ChatProgress(words().preparing_model.format(model=model))
    preparing = asyncio.ensure_future(local.prepare(model, progress))
    await progress.shown_until_done(preparing)
    await preparing


def profile_description(
    status: ProfileStatus,
    language: str | None,
    history_on: bool,
    uploads: DocumentLimits | None = None,
) -> str:
    """The welcome screen's Markdown for a chat profile: what it is, which backend, endpoint and
    model answer in it now, what that model can do, which files a message may attach, and
    whether the chat will be kept."""
    said = words_for(language)
    about = {
        Profile.FOUNDRY_LOCAL: said.about_local,
        Profile.REMOTE: said.about_remote,
        Profile.AUTO: said.about_auto,
    }[status.profile]
    local = _describe_local(status.local, said) if status.local else ""
    remote = _describe_remote(status.remote, said) if status.remote else ""
    if status.profile == Profile.FOUNDRY_LOCAL:
        answers = local
    elif status.profile == Profile.REMOTE:
        answers = remote
    elif status.local is not None and status.local.endpoint is None:
        answers = said.auto_remote_meanwhile.format(local=local, remote=remote)
    else:
        answers = said.auto_local_first.format(
            local=local, remote=remote, chars=status.long_prompt_chars
        )
    models = "".join(f"\n\n{line}" for line in _what_the_models_can_do(status, language))
    documents = "" if uploads is None else f"\n\n{uploads_line(uploads, said)}"
    history = "" if history_on else f"\n\n{said.history_off}"
    return f"{about}\n\n{answers}{models}{documents}{history}"


def uploads_line(limits: DocumentLimits, said: Words) -> str:
    return said.documents_welcome.format(
        count=limits.max_files, size=f"{limits.max_mb:g}", kinds=_kinds()
    )


def _kinds() -> str:
    return ", ".join(f"`{suffix}`" for suffix in SUPPORTED_SUFFIXES)


def _what_the_models_can_do(status: ProfileStatus, language: str | None) -> list[str]:
    """What is known of each model that answers in the profile; in a Korean chat whose first
    model writes no Korean, that, and how to switch."""
    said = words_for(language)
    models = [status.local.model if status.local else None]
    models.append(status.remote.model if status.remote else None)
    lines = [_model_can(facts_for(model), said) for model in dict.fromkeys(models) if model]
    if _writes_no_korean(status, language):
        lines.append(said.model_writes_no_korean.format(model=KOREAN_MODEL_EXAMPLE))
    return [line for line in lines if line]


def _model_can(facts: ModelFacts, said: Words) -> str:
    if facts.bundled:
        return said.bundled_model_can
    if facts.parameters is None:
        return ""  # nothing is known of it but its name, which the line above shows
    billions = facts.parameters / 1_000_000_000
    size = f"{billions:g}B" if billions >= 1 else f"{facts.parameters // 1_000_000}M"
    line = said.model_size.format(model=facts.model, size=size)
    return f"{line} {said.model_writes_korean}" if facts.writes(KOREAN) else line


def _writes_no_korean(status: ProfileStatus, language: str | None) -> bool:
    if language_of(language) != KOREAN or status.first_model is None:
        return False
    return facts_for(status.first_model).writes(KOREAN) is False


async def warn_if_unreadable_korean(text: str, model: str) -> str | None:
    """A Korean message to a model that writes no Korean: the chat says so (in Korean, once),
    and the loop notice, should the answer loop, says why instead of blaming the question.
    Returns that loop notice, or None."""
    if not HANGUL.search(text) or facts_for(model).writes(KOREAN) is not False:
        return None
    if not session.TOLD_NO_KOREAN.get():
        session.TOLD_NO_KOREAN.set(True)
        await notice(
            KOREAN_TO_A_MODEL_WITHOUT_KOREAN.format(model=model, example=KOREAN_MODEL_EXAMPLE)
        )
    return WORDS[KOREAN].loop_stopped_no_korean


def starters_for(status: ProfileStatus, language: str | None) -> list[tuple[str, str]]:
    """(label, message) of the starters a new chat offers: ones its first model can answer."""
    if _writes_no_korean(status, language):
        return ENGLISH_STARTERS_IN_KOREAN
    return STARTERS[language_of(language)]


def _describe_local(local: LocalStatus, said: Words) -> str:
    if local.endpoint is not None:
        return f"**Foundry Local** · `{local.endpoint.url}` · `{local.endpoint.model_id}`"
    if local.starting or local.unavailable is None:
        return said.local_starting
    if local.unavailable.problem == Problem.LOCAL_OFF:
        reason = said.local_off
    else:
        reason = local.unavailable.reason
    return said.local_unavailable.format(reason=reason.rstrip("."))


def why_unavailable(error: BackendUnavailable, said: Words) -> str:
    """The notice for a chat no server can answer: what failed, and what to do."""
    parts = [_unavailable(why, said) for why in error.why]
    return said.no_model_server.format(error=" ".join([*parts, said.how_to_fix]))


def _unavailable(why: Unavailable, said: Words) -> str:
    if why.problem == Problem.LOCAL_OFF:
        return said.local_off
    if why.problem == Problem.NO_FALLBACK:
        return said.no_fallback
    if why.problem == Problem.REMOTE_SILENT:
        return said.remote_silent.format(url=why.url, reason=why.reason)
    if why.problem == Problem.REMOTE_LACKS_MODEL:
        served = ", ".join(why.served) or said.nothing
        return said.remote_lacks_model.format(url=why.url, model=why.model, served=served)
    return said.local_failed.format(reason=why.reason)


def _describe_remote(remote: RemoteStatus, said: Words) -> str:
    model = f"`{remote.model}`" if remote.model else said.first_served_model
    return f"**BASE_URL** · `{remote.url}` · {model}"


async def tell_save_trouble(trouble: SaveTrouble) -> None:
    """Show a history problem in the chat it happened in, without saving the notice (it is
    about saving)."""
    said = words()
    message: cl.Message | cl.ErrorMessage
    if trouble.kind == SaveTroubleKind.OUTAGE:
        message = cl.ErrorMessage(
            author=APP_AUTHOR, content=said.not_saved.format(reason=trouble.reason)
        )
    elif trouble.kind == SaveTroubleKind.NOT_YOURS:
        message = cl.ErrorMessage(author=APP_AUTHOR, content=said.not_yours)
    elif trouble.kind == SaveTroubleKind.REFUSED:
        message = cl.ErrorMessage(
            author=APP_AUTHOR, content=said.save_refused.format(reason=trouble.reason)
        )
    else:
        message = cl.Message(author=APP_AUTHOR, content=said.saving_again)
    try:
        await cl.context.emitter.send_step(message.to_dict())
    except Exception as error:  # the socket may be gone; the log has the failure
        log.warning("could not show a notice in the chat: %s", error)


async def send_settings_panel(options: ChatOptions, served: list[str]) -> None:
    models = served if options.model in served else [options.model, *served]
    said = words()
    await cl.ChatSettings(
        [
            Select(id="model", label=said.model, values=models, initial_value=options.model),
            TextInput(
                id="system_prompt",
                label=said.system_prompt,
                initial=options.system_prompt,
                multiline=True,
            ),
            Slider(
                id="temperature",
                label=said.temperature,
                initial=options.temperature,
                min=TEMPERATURE_RANGE[0],
                max=TEMPERATURE_RANGE[1],
                step=0.1,
            ),
            Slider(
                id="max_tokens",
                label=said.max_tokens,
                initial=options.max_tokens,
                min=MAX_TOKENS_RANGE[0],
                max=MAX_TOKENS_RANGE[1],
                step=16,
            ),
            Switch(id="streaming", label=said.stream_the_answer, initial=options.streaming),
        ]
    ).send()


def why_it_failed(error: ChatError, said: Words) -> str:
    if error.failure == Failure.TIMEOUT:
        return said.failed_timeout
    if error.failure == Failure.UNREACHABLE:
        return said.failed_unreachable
    if error.failure == Failure.BROKEN_OFF:
        return said.failed_broken_off
    if error.failure == Failure.REFUSED:
        return said.failed_refused.format(status=error.status, detail=error.detail)
    return said.failed_reported.format(detail=error.detail)


def speed_line(stats: ReplyStats, said: Words) -> str:
    """The line under an answer: how fast it came, how much of the context it filled, and who
    answered."""
    parts = [stopped_note(stats, said)] if stats.stopped else []
    if stats.queued_seconds >= 0.5:
        parts.append(said.waited_in_line.format(seconds=f"{stats.queued_seconds:.1f}"))
    if not stats.streamed:
        parts.append(said.not_streamed.format(seconds=f"{stats.total_seconds:.2f}"))
    elif stats.ttft_seconds is not None:
        parts.append(said.first_token.format(ms=f"{stats.ttft_seconds * 1000:.0f}"))
    if stats.tokens_per_second is not None:
        parts.append(said.per_second.format(rate=f"{stats.tokens_per_second:.1f}"))
    parts.append(said.tokens.format(count=stats.tokens))
    if stats.reused_tokens is not None and stats.read_tokens is not None:
        parts.append(
            said.prompt_reuse.format(
                read=f"{stats.read_tokens:,}", reused=f"{stats.reused_tokens:,}"
            )
        )
    if stats.document_tokens is not None:
        parts.append(said.document_tokens.format(count=f"{stats.document_tokens:,}"))
    if stats.streamed:
        parts.append(said.took.format(seconds=f"{stats.total_seconds:.2f}"))
    if stats.context_used is not None and stats.context_length:
        percent = min(100, round(100 * stats.context_used / stats.context_length))
        parts.append(
            said.context_gauge.format(
                percent=percent, used=stats.context_used, limit=stats.context_length
            )
        )
    parts.append(stats.model)
    return " · ".join(parts)


def stopped_note(stats: ReplyStats, said: Words) -> str:
    if stats.cut_reason == CutReason.NOBODY_WATCHING:
        return said.cut_nobody_watching.format(seconds=f"{stats.unwatched_seconds or 0:g}")
    return said.stopped


async def refuse_while_busy(message: cl.Message) -> None:
    """A message sent while the thread's answer is being written: it stays, marked so that no
    request carries it, and the chat says why it was not answered."""
    message.metadata = {**(message.metadata or {}), REFUSED_KEY: True}
    await message.update()
    await notice(words().one_answer_at_a_time)


async def refuse(message: cl.Message, error: MessageTooLong | ContextExceeded) -> None:
    """The message stays in the chat, marked so that no later request carries it, and the chat
    says why it was not answered."""
    message.metadata = {**(message.metadata or {}), REFUSED_KEY: True}
    await message.update()
    said = words()
    if isinstance(error, MessageTooLong):
        tokens = f"{error.message_tokens:,}"
        await notice(
            said.message_too_long.format(
                tokens=tokens if error.exact else said.at_least.format(tokens=tokens),
                limit=f"{error.limit:,}",
                context=f"{error.context_length:,}",
            )
        )
    else:
        await notice(said.message_did_not_fit.format(error=why_it_failed(error, said)))


@contextlib.asynccontextmanager
async def turn_at(queue: AnswerQueue | None) -> AsyncIterator[None]:
    """Hold this answer's turn at the model server; while it waits, the chat says how many
    answers are ahead of it."""
    if queue is None:
        yield
        return
    status: cl.Message | None = None

    async def show_place(ahead: int) -> None:
        nonlocal status
        said = words()
        text = said.one_answer_ahead if ahead == 1 else said.answers_ahead.format(count=ahead)
        if status is None:
            status = await notice(text)
        else:
            status.content = text
            await status.update()

    try:
        async with queue.turn(show_place):
            if status is not None:
                await status.remove()
                status = None
            yield
    finally:
        if status is not None:  # left the line (stopped, or the browser went away)
            await status.remove()


class PromptReading:
    """While the model reads a long prompt, the chat says how many tokens and for how long,
    until the answer's first token."""

    def __init__(self) -> None:
        self._status: cl.Message | None = None
        self._ticking: asyncio.Task[None] | None = None

    async def begin(self, reading: ReadingPrompt) -> None:
        if reading.estimate_seconds < READING_NOTICE_SECONDS:
            return
        said = words()
        tokens, seconds = f"{reading.tokens:,}", f"{max(1, round(reading.estimate_seconds))}"
        self._status = await notice(said.reading_prompt.format(tokens=tokens, seconds=seconds))
        self._ticking = asyncio.create_task(self._tick(self._status, tokens, seconds))

    async def _tick(self, status: cl.Message, tokens: str, seconds: str) -> None:
        began = time.perf_counter()
        said = words()
        while True:
            await asyncio.sleep(1)
            elapsed = f"{time.perf_counter() - began:.0f}"
            status.content = said.reading_prompt_for.format(
                tokens=tokens, elapsed=elapsed, seconds=seconds
            )
            await status.update()

    async def end(self) -> None:
        if self._ticking is not None:
            self._ticking.cancel()
            self._ticking = None
        if self._status is not None:
            status, self._status = self._status, None
            await status.remove()


class AnswerView:
    """An answer as the chat shows it: its message, its thinking step, saved as it grows. It is
    given pieces (chat/answer_stream.py) and shows them; the images a model writes become links,
    never fetched."""

    def __init__(
        self, options: ChatOptions, live: LiveAnswer | None, reading: PromptReading
    ) -> None:
        self.metadata: dict[str, Any] = {REPLY_MODEL_KEY: options.model}
        self.message = cl.Message(content="", author=options.model, metadata=self.metadata)
        self.thinking: cl.Step | None = None
        self.checkpoints = Checkpoints(save_to_history if get_data_layer() is not None else None)
        self._streaming = options.streaming
        self._live = live
        self._reading = reading
        self._breakers = {"answer": ImageBreaker(), "thinking": ImageBreaker()}

    async def show(self, piece: Piece) -> None:
        await self._reading.end()
        text = self._breakers[piece.kind].feed(piece.text)
        if piece.kind == "thinking":
            if self.thinking is None:
                self.thinking = cl.Step(name=words().thinking, type="tool", show_input=False)
                await self.thinking.send()
            await self.thinking.stream_token(text)
            return
        if text and self.message.created_at is None:
            # Its place in the thread: where its first words came.
            self.message.created_at = utc_now()
            if self._live is not None:
                self._live.snapshot = self.message.to_dict
        if self._streaming:
            await self.message.stream_token(text)
        else:
            self.message.content += text  # shown whole by finish(), as the user asked
        self.checkpoints.grew(self.message.to_dict)


async def reply_with(
    question: cl.Message,
    backend: Backend,
    options: ChatOptions,
    request: FittedRequest,
    queue: AnswerQueue | None = None,
    context_length: int | None = None,
    stop_loops: bool = False,
    documents: DocumentContext | None = None,
    cache_key: str = "",
    live: LiveAnswer | None = None,
    loop_notice: str | None = None,
    earlier_versions: list[dict[str, Any]] | None = None,
) -> ReplyStats | None:
    """Stream the answer into the chat. With `stop_loops`, an answer that falls into a loop is
    stopped (its request closed), kept up to where it began repeating, and the chat says so.
    With `documents`, the answer is followed by the sources it was given. Returns the answer's
    stats when it was given (in full, or up to its loop); None when the server refused it or it
    was cut short.

    The answer is saved as it grows (answers/checkpoints.py), and `live` (the thread's answer
    being written) can show it as far as it is written to a tab that opens the thread."""
    options = dataclasses.replace(options, max_tokens=request.max_tokens)
    stats = ReplyStats(
        model=options.model, context_length=context_length, prompt_tokens=request.prompt_tokens
    )
    if documents is not None:
        stats.document_tokens = documents.document_tokens
    reading = PromptReading()
    view = AnswerView(options, live, reading)
    reply, checkpoints = view.message, view.checkpoints
    answer: AnswerStream | None = None
    cut_short = False
    try:
        async with turn_at(queue):
            # The answer's timing starts when its turn comes; the wait is reported on its own.
            turn_came = time.perf_counter()
            stats.queued_seconds, stats.started = turn_came - stats.started, turn_came
            tokens = stream_reply(
                backend.client, options, request.messages, stats, cache_key, reading.begin
            )
            answer = AnswerStream(tokens, LoopGuard() if stop_loops else None)
            try:
                async with contextlib.aclosing(answer.pieces()) as pieces:
                    async for piece in pieces:
                        await view.show(piece)
            finally:
                await reading.end()
    except ServerBusy as error:
        log.warning("the model server is busy: %s", error)
        said = words()
        seconds = error.retry_after_seconds
        await notice(said.server_busy.format(seconds=seconds) if seconds else said.server_busy_now)
        return None
    except ContextExceeded as error:
        log.warning("the server found the conversation too long: %s", error)
        await refuse(question, error)
        return None
    except ChatError as error:
        cut_short = True
        await checkpoints.settled()
        log.warning("chat request failed: %s", error, exc_info=error.__cause__)
        said = words()
        why = inert_images(why_it_failed(error, said))
        await reply.stream_token("\n\n" + said.answer_cut_short.format(error=why))
    except asyncio.CancelledError:
        # Stop pressed, or the browser left: keep what was streamed (the request is already
        # closed by the answer stream, which stops the model server's work on it).
        stats.stopped = True
        view.metadata["stopped"] = True
        if live is not None and live.cut_reason is not None:
            stats.cut_reason = view.metadata[CUT_KEY] = str(live.cut_reason)
            stats.unwatched_seconds = live.unwatched_seconds
        await checkpoints.settled()  # the last save must come after every checkpoint
        if reply.content:
            await finish(reply, view.thinking, stats, backend, earlier_versions)
        else:  # nothing of it was shown: say so (the speed line would have)
            await notice(words().stopped_before_answer)
        raise
    await checkpoints.settled()
    loop = answer.loop if answer is not None else None
    if loop is not None:
        log.info("stopped an answer that repeats %r", loop.span[:80])
        reply.content = inert_images(loop.keep)
    await finish(reply, view.thinking, stats, backend, earlier_versions)
    await show_sources(documents)
    if loop is not None:
        await notice(loop_notice or words().loop_stopped)
        return stats
    log.info("answered with %s: %d tokens in %.2f s", options.model, stats.tokens,
             stats.total_seconds)  # fmt: skip
    return None if cut_short else stats


async def finish(
    reply: cl.Message,
    thinking: cl.Step | None,
    stats: ReplyStats,
    backend: Backend,
    earlier: list[dict[str, Any]] | None = None,
) -> None:
    """Send the answer with its speed line; `earlier`: its versions before this one."""
    if thinking is not None:
        await thinking.update()
    said = words()
    summary = speed_line(stats, said)
    reply.metadata = {**(reply.metadata or {}), "stats": summary, "backend": backend.kind}
    versions = [*(earlier or []), version_of(reply)]
    element = stats_element(
        reply.id, summary, backend.kind, stats.stopped, said, len(versions), len(versions) - 1
    )
    reply.metadata[STATS_ELEMENT_KEY] = element.id
    if len(versions) > 1:
        reply.metadata |= {VERSIONS_KEY: versions, SHOWN_KEY: len(versions) - 1}
    # Chainlit's annotation of Message.elements leaves out CustomElement, which it sends.
    elements: list[Any] = [element]
    reply.elements = elements
    await offer_regenerate(reply, said)
    await reply.send()


# ----- documents attached to the chat -----


async def answer_without_documents(error: DocumentsUnreachable) -> None:
    log.warning("answering without the chat's documents: %s", error)
    await notice(words().documents_unreachable)


async def take_documents(
    store: DocumentStore, owner: Owner, uploads: list[Upload], reader: DocumentReader
) -> int:
    """Read and store the files a message attached, saying in the chat what became of each.
    Returns how many were read."""
    said = words()
    status = await notice(
        said.reading_documents.format(files=", ".join(shown_name(u.name) for u in uploads))
    )
    try:
        outcomes = await take_in(store, owner, uploads, reader)
    finally:
        await status.remove()
    read = 0
    for outcome in outcomes:
        if isinstance(outcome, DocumentRefused):
            await notice(why_refused(outcome, said))
            continue
        read += 1
        pages = said.document_pages.format(pages=outcome.pages) if outcome.pages else ""
        ready = said.document_ready if outcome.passages != 1 else said.document_ready_one
        await notice(
            ready.format(file=shown_name(outcome.name), passages=outcome.passages, pages=pages)
        )
    return read


async def refuse_unread_question(message: cl.Message) -> None:
    """None of the files a question came with could be read: the question is not answered (an
    answer would pretend to know them), and no later request carries it."""
    message.metadata = {**(message.metadata or {}), REFUSED_KEY: True}
    await message.update()
    await notice(words().no_file_read)


def why_refused(refused: DocumentRefused, said: Words) -> str:
    lines = {
        DocumentProblem.UNSUPPORTED: said.document_unsupported,
        DocumentProblem.NOT_TEXT: said.document_not_text,
        DocumentProblem.UNREADABLE: said.document_unreadable,
        DocumentProblem.ENCRYPTED: said.document_encrypted,
        DocumentProblem.EMPTY: said.document_empty,
        DocumentProblem.IMAGE_ONLY: said.document_image_only,
        DocumentProblem.TOO_LARGE: said.document_too_large,
        DocumentProblem.TOO_MANY: said.document_too_many,
        DocumentProblem.NOT_STORED: said.document_not_stored,
        DocumentProblem.TOO_SLOW: said.document_too_slow,
        DocumentProblem.TOO_MUCH_MEMORY: said.document_too_much_memory,
        DocumentProblem.TOO_MUCH_DATA: said.document_too_much_data,
        DocumentProblem.BUSY_USER: said.document_busy_user,
        DocumentProblem.BUSY: said.document_busy,
    }
    return lines[refused.problem].format(
        file=shown_name(refused.name), kinds=_kinds(), detail=refused.detail, limit=refused.detail
    )


SECTION_LABEL_CHARS = 40


def source_label(source: Passage, whole: bool, said: Words) -> str:
    """The source's name in the sources line and on its side element: a document's name and
    heading are the client's, so they show no image and no bidirectional control."""
    file = _shown_in_label(shortened(source.document, QUOTE_CHARS))
    if whole:  # the document's name says it: its side sheet says it went whole
        return file
    if source.page is not None:
        return said.source_page.format(file=file, page=source.page)
    if source.section:
        section = source.section
        if len(section) > SECTION_LABEL_CHARS:
            section = section[: SECTION_LABEL_CHARS - 1] + "…"
        return said.source_section.format(file=file, section=_shown_in_label(section))
    return said.source_passage.format(file=file, number=source.position + 1)


def _shown_in_label(text: str) -> str:
    return inert_images(without_bidi_controls(text))


async def show_sources(documents: DocumentContext | None) -> None:
    """Under the answer: the sources it was given, each a button that opens that source alone in
    a side sheet (public/elements/Sources.jsx), never by itself. App notice, so never sent to the
    model; the names stay in the message's metadata."""
    if documents is None or not documents.sources:
        return
    said = words()
    shown: list[dict[str, str]] = []
    for source in documents.sources:
        label = source_label(source, documents.whole, said)
        if any(earlier["label"] == label for earlier in shown):
            label = said.source_again.format(label=label, number=source.position + 1)
        # A document's text is the client's: its images become links, never fetched.
        shown.append({"label": label, "text": inert_images(source.text)})
    names = [source["label"] for source in shown]
    about = said.source_whole_given if documents.whole else said.source_given
    # Chainlit's annotation of Message.elements leaves out CustomElement, which it sends.
    elements: list[Any] = [
        cl.CustomElement(
            name="Sources",
            props={"heading": said.sources, "description": about, "sources": shown},
            display="inline",
        )
    ]
    await cl.Message(
        content="",
        author=APP_AUTHOR,
        elements=elements,
        metadata={"sources": names},
    ).send()
