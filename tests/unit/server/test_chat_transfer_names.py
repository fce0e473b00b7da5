"""The name an exported chat is saved under (server/chat_transfer.py): safe on any file system and
in an HTTP header, whatever the title, with a Korean title's letters kept (RFC 6266, 8187)."""

from __future__ import annotations

import re

from foundry_local_chat.server.chat_transfer import content_disposition, file_name


def test_file_names_are_safe_everywhere_and_keep_korean() -> None:
    assert file_name("What is the capital of France?", "md", "chat") == (
        "What is the capital of France.md"
    )
    assert file_name("../../etc/passwd", "json", "chat") == "etc_passwd.json"
    assert file_name(".bashrc", "md", "chat") == "bashrc.md"
    assert file_name("con", "md", "chat-2026-01-31") == "chat-2026-01-31.md"
    assert file_name("a\r\nContent-Type: text/html", "md", "chat") == (
        "a__Content-Type_ text_html.md"
    )
    assert file_name("\u202eexe.md", "md", "chat") == "exe.md.md"
    long = file_name("가" * 200, "md", "chat")
    assert len(long.encode()) <= 190 and long.startswith("가가")
    korean = file_name("프랑스의 수도?", "md", "chat-2026-01-31")
    assert korean == "프랑스의 수도.md"
    header = content_disposition(korean, "chat-2026-01-31")
    assert header == (
        'attachment; filename="chat-2026-01-31.md"; '
        "filename*=UTF-8''%ED%94%84%EB%9E%91%EC%8A%A4%EC%9D%98%20%EC%88%98%EB%8F%84.md"
    )
    assert content_disposition('Capitals; of "Europe".md', "chat") == (
        'attachment; filename="Capitals_ of _Europe_.md"; '
        "filename*=UTF-8''Capitals%3B%20of%20%22Europe%22.md"
    )
    assert re.fullmatch(r"[\x20-\x7e]+", header)  # one line of ASCII, whatever the title


# -- fuzzing the parser ----------------------------------------------------------------------------
