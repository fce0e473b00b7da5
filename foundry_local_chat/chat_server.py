"""Chainlit's own server: socket.io message and upload limits, the folder of its files."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import chainlit.config
import chainlit.server
import socketio
from chainlit.config import FeaturesSettings as ChainlitFeatures

from foundry_local_chat.config import DocumentLimits

MAX_MESSAGE_BYTES = 16 * 1024**2


def accept_long_messages(sio: socketio.AsyncServer) -> None:
    """python-engineio's default limit (1 MB) closes the socket on a longer message without a
    word to the browser, so a long paste looks like a dead chat. Up to this size a message
    arrives, and one the model cannot read is refused in the chat with its size."""
    sio.eio.max_http_buffer_size = MAX_MESSAGE_BYTES


"""Chainlit's own server: socket.io message and upload limits, the folder of its files."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import chainlit.config
import chainlit.server
