"""A socket.io client that talks to `chainlit run` the way the browser does."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import socketio

Event = tuple[str, dict[str, Any]]
EVENTS = (
    "new_message", "update_message", "delete_message", "stream_start", "stream_token",
    "task_start", "task_end", "element", "chat_settings",
)  # fmt: skip


@dataclass
class Reply:
    """What the server sent for one user message, from task_start to task_end."""

    events: list[Event] = field(default_factory=list)

    def of(self, name: str) -> list[dict[str, Any]]:
        return [data for event, data in self.events if event == name]

    @property
    def tokens(self) -> list[str]:
        return [data["token"] for data in self.of("stream_token")]

    @property
    def streamed_text(self) -> str:
        """What the browser showed while streaming: stream_start carries the first token."""
        return "".join(data["output"] for data in self.of("stream_start")) + "".join(self.tokens)

    @property
    def final_messages(self) -> list[dict[str, Any]]:
        return self.of("new_message")

    def stats(self) -> dict[str, Any]:
        """The props of the AnswerStats element shown under the answer."""
        answer_id = self.answer()["id"]
        found = [e["props"] for e in self.of("element") if e.get("forId") == answer_id]
        assert found, f"no stats element for the answer in {self.events}"
        return found[-1]

    def answer(self) -> dict[str, Any]:
        """The streamed answer, as finally sent (new_message with the id stream_start used)."""
        streamed_ids = {data["id"] for data in self.of("stream_start")}
        finals = [
            m
            for m in self.final_messages
            if m["id"] in streamed_ids or "reply_model" in (m.get("metadata") or {})
        ]
        assert finals, f"no final message for the streamed answer in {self.events}"
        return finals[-1]


class ChainlitSession:
    def __init__(self, base_url: str, chat_profile: str = "") -> None:
        self.base_url = base_url
        self.chat_profile = chat_profile
        self.session_id = str(uuid.uuid4())
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.history: list[Event] = []
        self.client = socketio.AsyncClient(reconnection=False)
        for name in EVENTS:
            self.client.on(name, self._recorder(name))

    def _recorder(self, name: str) -> Callable[[dict[str, Any]], Any]:
        async def record(data: dict[str, Any]) -> None:
            event = (name, data or {})
            self.history.append(event)
            await self.events.put(event)

        return record

    async def __aenter__(self) -> ChainlitSession:
        auth = {
            "sessionId": self.session_id, "clientType": "webapp", "threadId": "",
            "userEnv": "{}", "chatProfile": self.chat_profile,
        }  # fmt: skip
        await self.client.connect(
            self.base_url, socketio_path="/ws/socket.io", auth=auth, transports=["websocket"]
        )
        await self.client.emit("connection_successful")
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.client.disconnect()

    async def next_event(self, timeout: float = 60) -> Event:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def wait_for(
        self, name: str, predicate: Callable[[dict[str, Any]], bool] = lambda _: True,
        timeout: float = 60,
    ) -> dict[str, Any]:  # fmt: skip
        async with asyncio.timeout(timeout):
            while True:
                event, data = await self.events.get()
                if event == name and predicate(data):
                    return data

    async def ready(self, timeout: float = 120) -> str | None:
        """Wait for on_chat_start to finish. A chat that has a backend gets its settings panel
        (and no message, so the welcome screen stays); otherwise the notice that says what
        failed is returned."""

        def done(event: Event) -> bool:
            name, data = event
            if name == "chat_settings":
                return True
            return (
                name == "new_message"
                and data.get("type") == "assistant_message"
                and not data["output"].startswith("Starting Foundry Local")
            )

        async with asyncio.timeout(timeout):
            while not done(event := await self.events.get()):
                pass
        return None if event[0] == "chat_settings" else event[1]["output"]

    async def welcome(self) -> dict[str, str]:
        """The chat profiles' descriptions, as the welcome screen shows them."""
        url = f"{self.base_url}/project/settings"
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            response.raise_for_status()
            profiles = (await response.json())["chatProfiles"]
        return {profile["name"]: profile["markdown_description"] for profile in profiles}

    async def send(self, text: str) -> str:
        message_id = str(uuid.uuid4())
        step = {
            "id": message_id, "threadId": "", "name": "User", "type": "user_message",
            "output": text, "createdAt": datetime.now(UTC).isoformat(),
        }  # fmt: skip
        await self.client.emit("client_message", {"message": step, "fileReferences": []})
        return message_id

    async def collect_reply(self, timeout: float = 120) -> Reply:
        """Events from task_start to task_end of the current message."""
        reply = Reply()
        await self.wait_for("task_start", timeout=timeout)
        async with asyncio.timeout(timeout):
            while True:
                event = await self.events.get()
                if event[0] == "task_end":
                    return reply
                reply.events.append(event)

    async def ask(self, text: str, timeout: float = 120) -> Reply:
        await self.send(text)
        return await self.collect_reply(timeout)

    async def change_settings(self, values: dict[str, Any]) -> None:
        """What the settings panel's confirm button sends; returns once the app applied them
        (Chainlit runs on_settings_update as a task, between task_start and task_end)."""
        await self.client.emit("chat_settings_change", values)
        await self.wait_for("task_start")
        await self.wait_for("task_end")

    async def edit(self, message_id: str, text: str) -> None:
        """Edit an earlier user message: the conversation after it is replaced by a new answer."""
        step = {
            "id": message_id, "threadId": "", "name": "User", "type": "user_message",
            "output": text, "createdAt": datetime.now(UTC).isoformat(),
        }  # fmt: skip
        await self.client.emit("edit_message", {"message": step})

    async def stop(self) -> None:
        await self.client.emit("stop")
