"""Chainlit handlers only: everything else lives in the foundry_local_chat package.

At import, only what Chainlit needs before it serves: the settings, who may sign in (Chainlit
checks its auth secret right after this import), the history schema, and the origin guard.
Everything the handlers share is an AppState, created in the startup hook (`app_state()`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from typing import Any

import chainlit as cl
from chainlit.config import config as chainlit_config
from chainlit.context import local_steps
from chainlit.server import app as chainlit_server
from chainlit.server import sio
from chainlit.session import WebsocketSession
from chainlit.types import ThreadDict
from starlette.datastructures import Headers

from foundry_local_chat import log_format, request_ids
from foundry_local_chat.answers.abandoned import cancel_unless_back, cut_unless_watched
from foundry_local_chat.answers.interrupted import mark_interrupted
from foundry_local_chat.answers.live import CutReason, LiveAnswer, ThreadBusy
from foundry_local_chat.chat.backend import Backend, BackendKind, BackendUnavailable
from foundry_local_chat.chat.context_window import MessageTooLong, fit_request
from foundry_local_chat.chat.turn import (
    SENT_KEY,
    ChatOptions,
    build_messages,
    sent_content,
    system_messages,
    turn_role,
)
from foundry_local_chat.config import ConfigError, Settings
from foundry_local_chat.documents.context import ReadBudget
from foundry_local_chat.history.auth import Access, AuthError
from foundry_local_chat.history.chat_documents import (
    DocumentsUnreachable,
    documents_for,
    documents_to_add,
    start_without_documents,
    uploads,
)
from foundry_local_chat.history.data_layer import (
    ChatDataLayer,
    PersistenceError,
    history_engine,
    history_layer,
    history_owners,
    saves_waiting,
    start_history,
    thread_deleted,
    wait_for_saves,
)
from foundry_local_chat.history.ownership import install_ownership
from foundry_local_chat.history.sessions import install_session_guard
from foundry_local_chat.models.facts import loop_guard_on
from foundry_local_chat.models.foundry_runtime import FoundryStartError
from foundry_local_chat.models.progress import terminal_progress
from foundry_local_chat.origins import OriginPolicy
from foundry_local_chat.server.app_state import AppState
from foundry_local_chat.server.body_limit import install_body_limit
from foundry_local_chat.server.chainlit_server import (
    accept_long_messages,
    edit_with,
    limit_uploads,
    own_files_directory,
    stop_quietly,
)
from foundry_local_chat.server.chat_transfer import mount_chat_transfer
from foundry_local_chat.server.element_route_guard import install_element_route_guard
from foundry_local_chat.server.ops_routes import install_ops_routes
from foundry_local_chat.server.origin_guard import install_origin_guard
from foundry_local_chat.server.page_policy import install_page_policy
from foundry_local_chat.server.sign_in_throttle import install_sign_in_throttle
from foundry_local_chat.server.socket_payloads import check_socket_payloads
from foundry_local_chat.storage.database import DatabaseError
from foundry_local_chat.text_repair import has_lone_surrogates, repair_unicode
from foundry_local_chat.ui import chat_session as session
from foundry_local_chat.ui.answer_versions import (
    MOST_VERSIONS,
    REGENERATE,
    SHOW_VERSION,
    answer_to_regenerate,
    offer_regenerate_on_resume,
    show_version,
    versions_of,
)
from foundry_local_chat.ui.browser_page import mount_browser_page
from foundry_local_chat.ui.chat_title import expect_a_title, title_after_answer
from foundry_local_chat.ui.chat_view import (
    answer_without_documents,
    notice,
    prepare_model,
    profile_description,
    refuse,
    refuse_unread_question,
    refuse_while_busy,
    reply_with,
    send_settings_panel,
    show_start,
    starters_for,
    take_documents,
    tell_save_trouble,
    warn_if_unreadable_korean,
    why_unavailable,
    words,
)
from foundry_local_chat.ui.document_list import mount_document_list
from foundry_local_chat.ui.page_texts import mount_page_texts
from foundry_local_chat.ui.question_versions import (
    SHOW_QUESTION_VERSION,
    QuestionVersionsFull,
    keep_before_edit,
    show_question_version,
    switch_request,
    versions_lock,
)
from foundry_local_chat.ui.settings_panel import InvalidChatSettings, apply_panel_values
from foundry_local_chat.ui.texts import words_for
from foundry_local_chat.ui.thread_tabs import ThreadEmitter, user_of

try:
    settings = Settings.from_env()
except ConfigError as error:
    raise SystemExit(f"configuration error: {error}") from None

log_format.configure(settings.log_format)
log = logging.getLogger(__name__)


def installed_state() -> AppState | None:
    state: AppState | None = getattr(chainlit_server.state, "foundry_local_chat", None)
    return state


# /healthz, /readyz, /metrics; inside the origin guard, which is installed next (outermost).
install_ops_routes(chainlit_server, installed_state, settings.metrics_token)
# Bodies over their route's limit (uploads: DOCUMENT_MAX_MB) are refused before they are held.
install_body_limit(chainlit_server, settings.documents)
# Every page loads and connects to this origin only (Content-Security-Policy).
install_page_policy(chainlit_server)
# Each history id is checked against the request's user; a refusal is a 404 (history/data_layer.py).
install_element_route_guard(chainlit_server, history_owners)
install_ownership(chainlit_server)
# Sign-in slows down after failures; a signed-out session's token is refused from then on.
install_sign_in_throttle(chainlit_server)
install_session_guard(chainlit_server, history_engine)
# Only the app's own pages, and ALLOWED_ORIGINS, may use a signed-in user's session.
install_origin_guard(chainlit_server, OriginPolicy(frozenset(settings.allowed_origins)))
mount_browser_page(chainlit_server, settings)  # /browser: the model in the visitor's tab
mount_page_texts(chainlit_server)  # the words public/chat_care.js puts into Chainlit's page
# A chat's export (Markdown, JSON) for its owner, and the import of an exported JSON file.
mount_chat_transfer(chainlit_server, settings.generation.top_p)
mount_document_list(chainlit_server)  # the chat's documents above its composer, each removable

try:
    access = Access.from_settings(settings)
    start_history(settings, access, os.environ)
except (AuthError, DatabaseError) as error:
    raise SystemExit(f"error: {error}") from None

accept_long_messages(sio)
stop_quietly(sio)
own_files_directory()
limit_uploads(chainlit_config.features, settings.documents)
STARTUP_WAIT_SECONDS = 15
PROFILE_ICONS = {
    "Foundry Local": "/public/icons/local.svg",
    "Remote": "/public/icons/remote.svg",
    "Auto": "/public/icons/auto.svg",
}


def app_state() -> AppState:
    """The state the startup hook created. It lives on Chainlit's server, not in this module:
    `chainlit run -w` imports this module (and the package) again without starting again."""
    state = installed_state()
    if state is None:
        raise RuntimeError("the app has not started: on_app_startup creates its state")
    return state


def install(state: AppState) -> None:
    chainlit_server.state.foundry_local_chat = state


@cl.on_app_startup
async def start_app() -> None:
    log_format.configure(settings.log_format)  # uvicorn's handlers exist by now
    state = AppState.create(settings, history_engine=history_engine)
    state.metrics.watch_saves(saves_waiting)
    install(state)
    await mark_answers_cut_by_a_stop()
    await state.start(terminal_progress(settings.log_format), STARTUP_WAIT_SECONDS)


async def mark_answers_cut_by_a_stop() -> None:
    """Answers still marked as being written were cut when the app last stopped."""
    layer = history_layer()
    if layer is None:
        return
    try:
        await mark_interrupted(layer)
    except PersistenceError as error:  # the history is down: the chat says so when it is used
        log.error("could not mark the answers cut by the last stop: %s", error)


@cl.on_app_shutdown
async def stop_app() -> None:
    await app_state().stop()


@cl.set_chat_profiles
async def chat_profiles(
    user: cl.User | None = None, language: str | None = None
) -> list[cl.ChatProfile]:
    # The welcome screen shows the chosen profile's icon and description above the starters:
    # that is where a new chat says which backend, endpoint and model answer, and what that
    # model can do. Each profile offers starters its first model can answer.
    profiles = app_state().profiles
    default = profiles.default_profile()
    said = words_for(language)
    shown = {"Remote": said.remote_profile, "Auto": said.auto_profile}
    chat_profiles = []
    for profile in profiles.profiles():
        status = profiles.status(profile)
        chat_profiles.append(
            cl.ChatProfile(
                name=profile.value,
                display_name=shown.get(profile.value, profile.value),
                markdown_description=profile_description(
                    status, language, access.enabled, app_state().settings.documents
                ),
                icon=PROFILE_ICONS[profile.value],
                default=profile == default,
                starters=starter_buttons(starters_for(status, language)),
            )
        )
    return chat_profiles


@cl.set_starters
async def starters(user: cl.User | None = None, language: str | None = None) -> list[cl.Starter]:
    """The default profile's starters (the browser shows a profile's own when it has them)."""
    profiles = app_state().profiles
    return starter_buttons(starters_for(profiles.status(profiles.default_profile()), language))


def starter_buttons(starters: list[tuple[str, str]]) -> list[cl.Starter]:
    return [cl.Starter(label=label, message=message) for label, message in starters]


def default_options(model: str, system_prompt: str | None = None) -> ChatOptions:
    """A chat's options before its settings panel changed anything."""
    configured = app_state().settings
    prompt = configured.system_prompt if system_prompt is None else system_prompt
    return ChatOptions.defaults(model, prompt, configured.generation)


async def connect() -> Backend | None:
    """The chat's backend for its profile, or a notice saying why there is none."""
    state = app_state()
    if not state.local.started:
        await show_start(state.local)
    try:
        profile = state.profiles.chosen(session.CHAT_PROFILE.get())
        backend = await state.profiles.backend(profile)
    except BackendUnavailable as error:
        await notice(why_unavailable(error, words()))
        return None
    session.BACKEND.set(backend)
    return backend


@cl.on_chat_start
async def start_chat() -> None:
    app_state().metrics.chat_opened(cl.context.session.id)
    start_without_documents()
    if app_state().settings.chat_titles:
        expect_a_title()
    backend = await connect()
    if backend is None:
        return
    options = default_options(backend.model)
    session.OPTIONS.set(options)
    models = await backend.served_models()
    # No message here: the welcome screen (profile description and starters) stays visible.
    await send_settings_panel(options, models)


@cl.on_settings_update
async def update_settings(values: dict[str, Any]) -> None:
    backend: Backend | None = session.BACKEND.get()
    options: ChatOptions | None = session.OPTIONS.get()
    if backend is None or options is None:
        await notice(words().settings_need_a_server)
        return
    served = await backend.served_models()
    try:
        updated = apply_panel_values(options, values, served, words())
        if updated.model != options.model and backend.kind == BackendKind.FOUNDRY_LOCAL:
            await prepare_model(app_state().local, updated.model)
    except (InvalidChatSettings, FoundryStartError) as error:
        await send_settings_panel(options, served)  # the panel shows what is still in force
        await notice(words().settings_not_applied.format(error=error))
        return
    session.OPTIONS.set(updated)


@cl.on_message
async def answer(message: cl.Message) -> None:
    # One id for the turn, in every log line of it here and at the endpoint (X-Request-Id).
    with request_ids.bound(request_ids.new_id()):
        await answer_turn(message)


@wait_for_saves  # the turn ends (task_end) once what it said is saved
async def answer_turn(message: cl.Message, versions: list[dict[str, Any]] | None = None) -> None:
    """Answer the message; `versions`: of its answer so far, when it is answered again."""
    # An edited message re-runs this handler inline in the edit event's task: make that the task
    # the stop button cancels.
    session = cl.context.session
    task = session.current_task = asyncio.current_task()
    assert task is not None
    state = app_state()
    state.metrics.chat_opened(session.id)  # a chat whose browser came back
    if thread_deleted(session.thread_id):
        await notice(words().chat_deleted)  # and it is not saved: the thread is gone
        return
    # The thread's other open tabs see this turn: the question now, then all the turn shows.
    emitter = cl.context.emitter = ThreadEmitter(
        session,  # type: ignore[arg-type]  # a chat's turn runs in a socket's session
        state.tabs,
        state.live_answers,
        words,
    )
    await emitter.to_other_tabs("new_message", message.to_dict())
    for step in local_steps.get() or []:  # Chainlit's on_message step: the answer's parent
        await emitter.to_other_tabs("new_message", step.to_dict())
    await emitter.to_other_tabs("task_start", {})
    try:  # synchronous: of two messages sent at once, one claims the thread
        live = state.live_answers.claim(session.thread_id, user_of(session), task, session)
    except ThreadBusy:
        await refuse_while_busy(message)
        return
    try:
        # From here to its end the answer goes first: a chat's title being made gives way.
        async with state.idle_work.answering():
            await answer_in_thread(message, live, versions)
    finally:
        state.live_answers.release(live)


async def answer_in_thread(
    message: cl.Message, live: LiveAnswer, versions: list[dict[str, Any]] | None
) -> None:
    if has_lone_surrogates(message.content):
        message.content = repair_unicode(message.content)
        await message.update()
        await notice(words().unicode_repaired)
    if message.elements and versions is None:
        reader = app_state().document_reader
        read = await take_documents(*await documents_to_add(), uploads(message), reader)
        if not message.content.strip():
            return  # only files: nothing to answer yet
        if read == 0:
            await refuse_unread_question(message)
            return
    backend: Backend | None = session.BACKEND.get() or await connect()
    if backend is None:
        return
    options: ChatOptions = session.OPTIONS.get() or default_options(backend.model)
    routed = await route(message.content)
    if routed is None:
        return
    if routed.kind != backend.kind:  # Auto sent it elsewhere: that server's model answers
        options = default_options(routed.model, options.system_prompt)
    earlier = build_messages("", [
        {"role": role, "content": sent_content(m.content, m.metadata)}
        for m in cl.chat_context.get()
        if m.id != message.id and (role := turn_role(m.type, m.metadata))
    ])  # fmt: skip
    question = {"role": "user", "content": message.content}
    state = app_state()
    window = await state.profiles.context_window(routed, options.model)
    try:
        budget = ReadBudget(
            state.settings.documents_whole_within_seconds, state.read_speed.tokens_per_second
        )
        documents = await documents_for(
            question, options.system_prompt, options.max_tokens, window, budget
        )
    except DocumentsUnreachable as error:
        await answer_without_documents(error)
        documents = None
    sent = documents.question if documents else question
    try:
        request = await asyncio.to_thread(  # counting a long paste takes a while: not on the loop
            fit_request,
            documents.system if documents else system_messages(options.system_prompt),
            earlier,
            sent,
            options.max_tokens,
            window,
        )
    except MessageTooLong as error:
        await refuse(message, error)
        return
    if sent is not question:  # later requests repeat it as sent (chat.SENT_KEY)
        message.metadata = {**(message.metadata or {}), SENT_KEY: sent["content"]}
        await message.update()
    if window is not None and request.left_out and not session.TOLD_LEFT_OUT.get():
        session.TOLD_LEFT_OUT.set(True)
        await notice(words().earlier_turns_left_out.format(context=f"{window.context_length:,}"))
    context_length = window.context_length if window is not None else None
    loop_notice = await warn_if_unreadable_korean(message.content, options.model)
    given = await reply_with(
        message, routed, options, request, state.answer_queues.get(routed.kind), context_length,
        stop_loops=loop_guard_on(state.settings.loop_guard, options.model), documents=documents,
        cache_key=chat_cache_key() if routed.kind == BackendKind.FOUNDRY_LOCAL else "",
        live=live, loop_notice=loop_notice, earlier_versions=versions,
    )  # fmt: skip
    if given is not None:
        state.metrics.answered(given.ttft_seconds)
        if given.read_tokens is not None and given.ttft_seconds is not None:
            state.read_speed.record(given.read_tokens, given.ttft_seconds)
        # A new chat's first answer: its title, once the model is idle (not awaited here).
        title_after_answer(message.content, routed, options.model, state.idle_work, state.tabs)


@cl.action_callback(REGENERATE)
async def regenerate(action: cl.Action) -> None:
    """The latest answer's "answer again": a new answer to the same question; the earlier ones
    stay with it as versions (< 1/2 >)."""
    with request_ids.bound(request_ids.new_id()):
        found = answer_to_regenerate(action.forId or "")
        if found is None:
            await notice(words().regenerate_only_latest)
            return
        answer, question, notices = found
        versions = versions_of(answer)
        if len(versions) >= MOST_VERSIONS:
            await notice(words().answer_versions_full.format(most=MOST_VERSIONS))
            return
        await cl.context.emitter.task_start()
        try:
            for shown in [answer, *notices]:
                await shown.remove()
            await answer_turn(question, versions)
        finally:
            await cl.context.emitter.task_end()


@cl.action_callback(SHOW_VERSION)
async def switch_version(action: cl.Action) -> None:
    payload = action.payload or {}
    await show_version(str(payload.get("answer", "")), payload.get("index"), words())


@wait_for_saves
async def edit_question(question_id: str, text: str) -> None:
    """An edited question is answered again; the turns that followed it stay with its earlier
    version (< 1/2 > under the question switches between them)."""
    async with versions_lock():
        if app_state().live_answers.of(cl.context.session.thread_id) is not None:
            await notice(words().versions_wait)
            return
        try:
            question = await keep_before_edit(question_id, text, words())
        except QuestionVersionsFull:
            await notice(words().question_versions_full.format(most=MOST_VERSIONS))
            return
    if question is None:
        await notice(words().question_not_here)
        return
    answer_message = chainlit_config.code.on_message  # Chainlit's, around `answer`
    assert answer_message is not None
    await answer_message(question)


# Chainlit's edit removed every later message: the app's keeps them (edit_question). Then every
# socket event is checked: a malformed one gets a notice, not Python's exception text.
edit_with(sio, edit_question)
check_socket_payloads(sio)


@cl.action_callback(SHOW_QUESTION_VERSION)
async def switch_question_version(action: cl.Action) -> None:
    """< 1/2 > under an edited question: the chat shows that version, with the turns that
    followed it, and goes on from there."""
    await cl.context.emitter.task_start()
    try:
        await show_the_version(action.payload)
    finally:
        await cl.context.emitter.task_end()


@wait_for_saves  # a reload right after it finds the version it showed
async def show_the_version(payload: object) -> None:
    request = switch_request(payload)
    if request is None:
        await notice(words().malformed_payload)
        return
    async with versions_lock():
        if app_state().live_answers.of(cl.context.session.thread_id) is not None:
            await notice(words().versions_wait)
        elif not await show_question_version(*request, words()):
            await notice(words().question_not_here)


def chat_cache_key() -> str:
    """This chat's scope at the endpoint: its conversation is continued by this chat alone."""
    session = cl.context.session
    user = session.user.identifier if session.user is not None else ""
    return hashlib.sha256(f"{user}\x00{session.thread_id}".encode()).hexdigest()[:32]


@cl.on_stop
async def stopped() -> None:
    state = app_state()
    state.metrics.stops.inc()
    # Stop in a tab that re-attached to the answer (Chainlit cancels only the tab's own task).
    session = cl.context.session
    live = state.live_answers.seen_by(session.thread_id, user_of(session))
    if live is not None and live.writer is not session:
        live.cut(CutReason.STOPPED)


@cl.on_chat_end
async def browser_left() -> None:
    # Chainlit calls this whenever a chat's socket closes; the session itself lives on.
    session = cl.context.session
    metrics = app_state().metrics
    metrics.chat_closed(session.id)
    if not isinstance(session, WebsocketSession):
        return
    state = app_state()
    state.tabs.left(session)
    grace = state.settings.abandoned_answer_grace_seconds
    live = state.live_answers.of(session.thread_id)
    if live is not None and (live.writer is session or live.may_be_seen_by(user_of(session))):
        cut_unless_watched(live, grace, lambda: state.tabs.watched(live), metrics.abandoned.inc)
    else:
        cancel_unless_back(session, grace, metrics.abandoned.inc)


async def route(prompt: str) -> Backend | None:
    """The backend for this message: the Auto profile routes each one; the other profiles always
    get the chat's own backend (the resolver keeps one Backend per kind)."""
    profiles = app_state().profiles
    try:
        return await profiles.backend(profiles.chosen(session.CHAT_PROFILE.get()), len(prompt))
    except BackendUnavailable as error:
        await notice(why_unavailable(error, words()))
        return None


# ----- sign-in and history (see foundry_local_chat.history.auth and .persistence) -----


@cl.data_layer  # type: ignore[arg-type]  # Chainlit's annotation omits None, which it takes
def history() -> ChatDataLayer | None:
    # None: no history, and no fallback to Chainlit's own DATABASE_URL data layer either.
    return ChatDataLayer(settings.database_url, tell_save_trouble) if access.enabled else None


if access.password_login:

    @cl.password_auth_callback
    async def sign_in(username: str, password: str) -> cl.User | None:
        name = await asyncio.to_thread(access.check_password, username, password)
        return cl.User(identifier=name, metadata={"sign_in": "password"}) if name else None


if access.header:

    @cl.header_auth_callback
    async def sign_in_from_proxy(headers: Headers) -> cl.User | None:
        name = access.user_from_headers(headers)
        return cl.User(identifier=name, metadata={"sign_in": "header"}) if name else None


@cl.on_chat_resume
async def resume_chat(thread: ThreadDict) -> None:
    """Chainlit has put the thread's messages back into cl.chat_context (steps keep their
    metadata, so turn_role still knows answers from notices) and its metadata back into the
    session (chat settings, chat profile); the chat gets its backend and its settings back, and
    the answer still being written in the thread, if any."""
    reattach_to_the_answer()  # whether or not a model server answers now
    app_state().metrics.chat_opened(cl.context.session.id)
    backend = await connect()
    if backend is None:
        return
    served = await backend.served_models()
    options = default_options(backend.model)
    try:
        saved = cl.context.session.chat_settings or {}
        options = apply_panel_values(options, saved, served, words())
    except InvalidChatSettings as error:
        await notice(words().settings_no_longer_apply.format(error=error))
    session.OPTIONS.set(options)
    await send_settings_panel(options, served)
    await offer_regenerate_on_resume(thread, words())


def reattach_to_the_answer() -> None:
    """Chainlit sends the resumed thread after on_chat_resume: through this emitter, it is sent
    with the answer still being written as far as it is written (the rest streams in, to every
    open tab of the thread), and the stop button stays until the answer ends."""
    state = app_state()
    cl.context.emitter = ThreadEmitter(
        cl.context.session,  # type: ignore[arg-type]
        state.tabs,
        state.live_answers,
        words,
        fan_out=False,
    )
