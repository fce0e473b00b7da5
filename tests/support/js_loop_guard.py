"""The /browser page's loop guard (web/src/loop_guard.js), run by Node.js, called from Python: the
tests hold it to the same answers as the chat's (foundry_local_chat/chat/loop_guard.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from typing import Any

from foundry_local_chat.chat.loop_guard import Loop
from tests.support.processes import REPO

DRIVER = REPO / "tests" / "support" / "loop_guard_driver.mjs"


@dataclass(frozen=True)
class Verdict:
    loop: Loop | None
    read: int  # how many deltas it read, up to the one that showed the loop
    text: str  # what it was fed
    units: list[str]  # the units it has read (a word at the end may go on: not yet one)


def camel_case(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(part.title() for part in rest)


class JsLoopGuard:
    """One `node` process for many questions (starting one costs more than the answers)."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise RuntimeError("node not found: the /browser page needs Node.js (make web)")
        self._node = subprocess.Popen(
            [node, str(DRIVER)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8",
        )  # fmt: skip

    def _ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self._node.stdin is not None and self._node.stdout is not None
        self._node.stdin.write(json.dumps(request) + "\n")
        self._node.stdin.flush()
        line = self._node.stdout.readline()
        if not line:
            raise RuntimeError(f"the driver ended (exit code {self._node.wait()})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def guard(self, deltas: list[str], **rules: float) -> Verdict:
        rules_js = {camel_case(name): value for name, value in rules.items()}
        answer = self._ask({"op": "guard", "deltas": deltas, "rules": rules_js})
        loop = answer["loop"]
        return Verdict(
            loop=None if loop is None else Loop(keep=loop["keep"], span=loop["span"]),
            read=answer["read"], text=answer["text"], units=answer["units"],
        )  # fmt: skip

    def units(self, texts: list[str]) -> list[list[str]]:
        units: list[list[str]] = self._ask({"op": "units", "texts": texts})["units"]
        return units

    def refusal(self, **rules: float) -> str | None:
        """Why the rules cannot work, or None."""
        rules_js = {camel_case(name): value for name, value in rules.items()}
        error: str | None = self._ask({"op": "rules", "rules": rules_js})["error"]
        return error

    def close(self) -> None:
        if self._node.stdin is not None:
            self._node.stdin.close()
        self._node.wait(timeout=10)
