"""Talk to `chainlit run` the way the browser does: socket.io for the chat, HTTP around it.

With sign-in on, `ChainlitApi` signs in (POST /login or /auth/header) and reads the history
(POST /project/threads, GET /project/thread/{id}); its token (the `access_token` cookie) opens
a `ChainlitSession`, which resumes a thread when given its id.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import socketio

from foundry_local_chat.server.chainlit_server import MAX_MESSAGE_BYTES

Event = tuple[str, dict[str, Any]]
EVENTS = (
    "new_message", "update_message", "delete_message", "stream_start", "stream_token",
    "task_start", "task_end", "element", "chat_settings", "first_interaction",
    "resume_thread", "resume_thread_error",
)  # fmt: skip
AUTH_COOKIE = "access_token"


class ConnectionLost(ConnectionError):
    """The server closed the socket while the test waited for an event."""


class HttpError(RuntimeError):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status


class ChainlitApi:
    """The HTTP API next to the chat; `token` is the signed-in user's session cookie."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.last_headers: dict[str, str] = {}

    async def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer; raises HttpError for any status other than 2xx."""
        headers = dict(kwargs.pop("headers", {}))
        if self.token:
            headers["Cookie"] = f"{AUTH_COOKIE}={self.token}"
        async with (
            aiohttp.ClientSession() as http,
            http.request(method, self.base_url + path, headers=headers, **kwargs) as response,
        ):
            body = await response.text()
            self.last_headers = dict(response.headers)
            if response.status >= 300:
                raise HttpError(response.status, body)
            if AUTH_COOKIE in response.cookies:
                self.token = response.cookies[AUTH_COOKIE].value
            return await response.json() if body else None

    async def sign_in(self, name: str, password: str) -> str:
        """POST /login with the browser's form; returns the session token."""
        self.token = None
        await self.request("POST", "/login", data={"username": name, "password": password})
        assert self.token, "signed in, but no session cookie was set"
        return self.token

    async def sign_in_with_header(self, header: str, value: str) -> str:
        self.token = None
        await self.request("POST", "/auth/header", headers={header: value})
        assert self.token, "signed in, but no session cookie was set"
        return self.token

    async def user(self) -> dict[str, Any]:
        return await self.request("GET", "/user")

    async def threads(self) -> list[dict[str, Any]]:
        """The sidebar's history: this user's threads, newest first, with their steps."""
        body = {"pagination": {"first": 50}, "filter": {}}
        return (await self.request("POST", "/project/threads", json=body))["data"]

    async def thread(self, thread_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/project/thread/{thread_id}")


def messages_of(thread: dict[str, Any]) -> list[tuple[str, str]]:
    """(type, text) of the thread's saved messages, in order."""
    return [(s["type"], s["output"]) for s in thread["steps"] if s["type"].endswith("_message")]


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
    """One browser tab's chat. With `token` it is a signed-in user's; with `thread_id` it
    resumes that thread (the sidebar's "open" of a past chat). `origin` is the Origin header of
    the page it claims to be (none by default, as curl); `transport` is socket.io's."""

    def __init__(
        self, base_url: str, token: str | None = None, thread_id: str = "", chat_profile: str = "",
        language: str = "en-US", origin: str | None = None, transport: str = "websocket",
    ) -> None:  # fmt: skip
        self.base_url = base_url
        self.origin = origin
        self.transport = transport
        self.language = language  # sent as Accept-Language, as a browser does
        self.token = token
        self.thread_id = thread_id
        self.chat_profile = chat_profile
        self.session_id = str(uuid.uuid4())
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.history: list[Event] = []
        # A browser takes a message of any size; aiohttp stops at 4 MB. Chainlit sends a long
        # message back in its own events (the thread's name, the user message's step), so this
        # client takes what the server itself would take.
        self.client = socketio.AsyncClient(
            reconnection=False, websocket_extra_options={"max_msg_size": 4 * MAX_MESSAGE_BYTES}
        )
        for name in EVENTS:
            self.client.on(name, self._recorder(name))
        self.client.on("disconnect", self._disconnected)

    async def _disconnected(self, *reason: object) -> None:
        await self.events.put(("disconnect", {"reason": reason}))

    async def _take(self) -> Event:
        """The next event; a closed connection ends the wait at once (no timeout to sit out)."""
        event = await self.events.get()
        if event[0] == "disconnect":
            await self.events.put(event)  # every later wait fails too
            raise ConnectionLost(f"the server closed the connection ({event[1]['reason']})")
        return event

    def _recorder(self, name: str) -> Callable[[dict[str, Any]], Any]:
        async def record(data: dict[str, Any]) -> None:
            event = (name, data or {})
            self.history.append(event)
            await self.events.put(event)

        return record

    async def __aenter__(self) -> ChainlitSession:
        auth = {
            "sessionId": self.session_id, "clientType": "webapp", "threadId": self.thread_id,
            "userEnv": "{}", "chatProfile": self.chat_profile,
        }  # fmt: skip
        headers = {"Accept-Language": self.language}
        if self.token:
            headers["Cookie"] = f"{AUTH_COOKIE}={self.token}"
        if self.origin:
            headers["Origin"] = self.origin
        try:
            await self.client.connect(
                self.base_url,
                socketio_path="/ws/socket.io",
                auth=auth,
                headers=headers,
                transports=[self.transport],
            )
        except socketio.exceptions.ConnectionError:
            await self.client.disconnect()  # a refused connect leaves its HTTP session open
            raise
        await self.client.emit("connection_successful")
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.client.disconnect()

    async def next_event(self, timeout: float = 60) -> Event:
        return await asyncio.wait_for(self._take(), timeout)

    async def wait_for(
        self, name: str, predicate: Callable[[dict[str, Any]], bool] = lambda _: True,
        timeout: float = 60,
    ) -> dict[str, Any]:  # fmt: skip
        async with asyncio.timeout(timeout):
            while True:
                event, data = await self._take()
                if event == name and predicate(data):
                    return data

    async def wait_for_seen(
        self, name: str, predicate: Callable[[dict[str, Any]], bool] = lambda _: True,
        timeout: float = 60,
    ) -> dict[str, Any]:  # fmt: skip
        """Like wait_for, but an event that already arrived (e.g. inside a reply) counts too."""
        for event, data in self.history:
            if event == name and predicate(data):
                return data
        return await self.wait_for(name, predicate, timeout)

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
            while not done(event := await self._take()):
                pass
        return None if event[0] == "chat_settings" else event[1]["output"]

    async def welcome(self) -> dict[str, str]:
        """The chat profiles' descriptions, as the welcome screen shows them."""
        url = f"{self.base_url}/project/settings?language={self.language}"
        async with aiohttp.ClientSession() as http, http.get(url) as response:
            response.raise_for_status()
            profiles = (await response.json())["chatProfiles"]
        return {profile["name"]: profile["markdown_description"] for profile in profiles}

    async def upload(self, name: str, content: bytes, mime: str) -> str:
        """POST /project/file as the browser's attach button does; returns the file's id.
        Raises HttpError when the server refuses the file."""
        form = aiohttp.FormData()
        form.add_field("file", content, filename=name, content_type=mime)
        api = ChainlitApi(self.base_url, self.token)
        answer = await api.request("POST", f"/project/file?session_id={self.session_id}", data=form)
        return str(answer["id"])

    async def file(self, file_id: str) -> str:
        """A file of this session (e.g. a side element's text), as the browser fetches it."""
        api = ChainlitApi(self.base_url, self.token)
        path = f"/project/file/{file_id}?session_id={self.session_id}"
        headers = {"Cookie": f"{AUTH_COOKIE}={self.token}"} if self.token else {}
        async with (
            aiohttp.ClientSession() as http,
            http.get(api.base_url + path, headers=headers) as response,
        ):
            body = await response.text()
            if response.status >= 300:
                raise HttpError(response.status, body)
            return body

    async def send(self, text: str, files: list[str] | tuple[str, ...] = ()) -> str:
        """Send a message (with the ids of files uploaded before, as attachments)."""
        message_id = str(uuid.uuid4())
        step = {
            "id": message_id, "threadId": "", "name": "User", "type": "user_message",
            "output": text, "createdAt": datetime.now(UTC).isoformat(),
        }  # fmt: skip
        references = [{"id": file_id} for file_id in files]
        await self.client.emit("client_message", {"message": step, "fileReferences": references})
        return message_id

    async def collect_reply(self, timeout: float = 120) -> Reply:
        """Events from task_start to task_end of the current message."""
        reply = Reply()
        await self.wait_for("task_start", timeout=timeout)
        async with asyncio.timeout(timeout):
            while True:
                event = await self._take()
                if event[0] == "task_end":
                    return reply
                reply.events.append(event)

    async def ask(self, text: str, timeout: float = 120, files: tuple[str, ...] = ()) -> Reply:
        await self.send(text, files)
        return await self.collect_reply(timeout)

    async def send_settings(self, values: dict[str, Any]) -> None:
        """What the settings panel's confirm button sends (Chainlit then runs on_settings_update
        as a task, between task_start and task_end)."""
        await self.client.emit("chat_settings_change", values)

    async def change_settings(self, values: dict[str, Any]) -> None:
        """send_settings, returning once the app has applied them."""
        await self.send_settings(values)
        await self.wait_for("task_start")
        await self.wait_for("task_end")

    async def action(self, name: str, payload: object, for_id: str | None = None) -> None:
        """What an action button (or a custom element's callAction) sends: POST /project/action;
        the app's callback runs before it answers."""
        action = {"id": str(uuid.uuid4()), "name": name, "payload": payload, "forId": for_id}
        api = ChainlitApi(self.base_url, self.token)
        body = {"sessionId": self.session_id, "action": action}
        await api.request("POST", "/project/action", json=body)

    async def edit(self, message_id: str, text: str) -> None:
        """Edit an earlier user message: the conversation after it is replaced by a new answer."""
        step = {
            "id": message_id, "threadId": "", "name": "User", "type": "user_message",
            "output": text, "createdAt": datetime.now(UTC).isoformat(),
        }  # fmt: skip
        await self.client.emit("edit_message", {"message": step})

    async def stop(self) -> None:
        await self.client.emit("stop")
