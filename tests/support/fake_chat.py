"""The fast tier's browser tab: app.py's handlers run in-process, in a real Chainlit session whose
socket is a list of the events the app sent, against a scripted model server.

    model = ScriptedModel()
    async with chat_app(model) as app:
        chat = FakeChat(app)
        await chat.start()
        model.enqueue("Paris.")
        turn = await chat.say("What is the capital of France?")
        assert turn.answer == "Paris."
"""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from chainlit.config import FILES_DIRECTORY
from chainlit.context import init_ws_context
from chainlit.message import Message
from chainlit.session import WebsocketSession

from foundry_local_chat.config import Settings
from foundry_local_chat.server.app_state import AppState
from tests.support.scripted_model import ScriptedModel

APP_NOTICE = "Foundry Local Chat"
REMOTE_URL = "http://model.test/v1"  # never resolved: the scripted transport answers

Event = tuple[str, Any]


@contextlib.contextmanager
def app_environment(data_dir: Path) -> Iterator[None]:
    """What app.py reads at import: no users (so no sign-in, no database), a data dir of the
    test's own."""
    saved = dict(os.environ)
    os.environ.update({"APP_DATA_DIR": str(data_dir), "FOUNDRY_LOCAL": "0"})
    for name in ("USERS_FILE", "DATABASE_URL", "AUTH_HEADER", "BASE_URL", "MODEL"):
        os.environ.pop(name, None)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def import_app(data_dir: Path) -> ModuleType:
    with app_environment(data_dir):
        import app

    return app


@dataclass
class ChatApp:
    module: ModuleType  # app.py
    state: AppState
    model: ScriptedModel


@contextlib.asynccontextmanager
async def chat_app(model: ScriptedModel, data_dir: Path, **settings: str) -> AsyncIterator[ChatApp]:
    """app.py with an AppState whose only backend is `model` (as BASE_URL), started."""
    module = import_app(data_dir)
    FILES_DIRECTORY.mkdir(exist_ok=True)  # a chat's files go there; `chainlit run` makes it
    env = {"FOUNDRY_LOCAL": "0", "BASE_URL": REMOTE_URL, "MODEL": model.model,
           "APP_DATA_DIR": str(data_dir), **settings}  # fmt: skip
    state = AppState.create(Settings.from_env(env), http_client=model.http_client)
    await state.local.start()
    module.install(state)
    try:
        yield ChatApp(module, state, model)
    finally:
        await state.stop()


@dataclass
class Turn:
    """What the app sent for one action of the user."""

    events: list[Event] = field(default_factory=list)

    def of(self, name: str) -> list[Any]:
        return [data for event, data in self.events if event == name]

    @property
    def notices(self) -> list[str]:
        return [m["output"] for m in self.of("new_message") if m.get("name") == APP_NOTICE]

    @property
    def tokens(self) -> list[str]:
        return [data["token"] for data in self.of("stream_token")]

    @property
    def reply(self) -> dict[str, Any] | None:
        """The answer as finally sent (the message that carries the answering model)."""
        answers = [m for m in self.of("new_message") if "reply_model" in (m.get("metadata") or {})]
        return answers[-1] if answers else None

    @property
    def answer(self) -> str | None:
        return None if self.reply is None else self.reply["output"]

    @property
    def sources(self) -> dict[str, Any] | None:
        """The line under an answer that lists its sources, with its elements."""
        found = [m for m in self.of("new_message") if (m.get("metadata") or {}).get("sources")]
        return found[-1] if found else None

    @property
    def source_texts(self) -> dict[str, str]:
        """The sources under the answer: each button's label, and the text it opens."""
        shown = [e["props"]["sources"] for e in self.of("element") if e.get("name") == "Sources"]
        return {source["label"]: source["text"] for source in (shown[-1] if shown else [])}

    @property
    def speed_line(self) -> str:
        [props] = [e["props"] for e in self.of("element") if e.get("name") == "AnswerStats"]
        return str(props["summary"])


class FakeChat:
    def __init__(self, app: ChatApp, language: str = "en-US", profile: str | None = None) -> None:
        self.app = app
        self.events: list[Event] = []
        self._emitted = asyncio.Event()
        self.session = WebsocketSession(
            id=str(uuid.uuid4()),
            socket_id=str(uuid.uuid4()),
            emit=self._emit,  # type: ignore[arg-type]
            emit_call=self._emit_call,
            user_env={},
            client_type="webapp",
            environ={"HTTP_ACCEPT_LANGUAGE": language},
            chat_profile=profile,
        )

    async def _emit(self, event: str, data: Any) -> None:
        self.events.append((event, data))
        self._emitted.set()

    async def wait_for(self, predicate: Callable[[Event], bool]) -> Event:
        """The first event (already sent or still to come) that matches."""
        seen = 0
        while True:
            for event in self.events[seen:]:
                if predicate(event):
                    return event
            seen = len(self.events)
            self._emitted.clear()
            await self._emitted.wait()

    async def _emit_call(self, event: str, data: Any, timeout: int | None) -> None:
        raise AssertionError(f"the app asked the browser something: {event} {data}")

    @contextlib.asynccontextmanager
    async def _turn(self) -> AsyncIterator[Turn]:
        init_ws_context(self.session)
        turn = Turn()
        mark = len(self.events)
        yield turn
        turn.events = self.events[mark:]

    async def start(self) -> Turn:
        async with self._turn() as turn:
            await self.app.module.start_chat()
        return turn

    async def say(self, text: str, files: Sequence[tuple[str, bytes]] = ()) -> Turn:
        """Send a message, with files attached as the browser's upload does (each saved into
        the session's files first, then referenced by the message)."""
        async with self._turn() as turn:
            self.last_message = await self._message(text, files)
            await self.app.module.answer(self.last_message)
        return turn

    async def act(self, name: str, for_id: str, payload: dict[str, Any] | None = None) -> Turn:
        """Click an action (a message's button, or a custom element's callAction), as the
        browser's POST /project/action does: the callback registered under its name runs."""
        from chainlit.action import Action
        from chainlit.config import config

        async with self._turn() as turn:
            action = Action(name=name, payload=payload or {}, forId=for_id)
            await config.code.action_callbacks[name](action)
        return turn

    async def change_settings(self, values: dict[str, Any]) -> Turn:
        async with self._turn() as turn:
            self.session.chat_settings = values
            await self.app.module.update_settings(values)
        return turn

    async def _message(self, text: str, files: Sequence[tuple[str, bytes]] = ()) -> Message:
        step = {
            "id": str(uuid.uuid4()), "threadId": "", "name": "User", "type": "user_message",
            "output": text, "createdAt": datetime.now(UTC).isoformat(),
        }  # fmt: skip
        context = init_ws_context(self.session)
        references = []
        for name, content in files:
            mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
            saved = await self.session.persist_file(name=name, mime=mime, content=content)
            references.append({"id": saved["id"]})
        return await context.emitter.process_message(
            {"message": step, "fileReferences": references}  # type: ignore[typeddict-item]
        )

    async def close(self) -> None:
        await self.session.delete()
