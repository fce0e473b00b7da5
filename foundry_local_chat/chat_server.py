"""Limits of Chainlit's own server: socket.io messages, and uploads."""

from __future__ import annotations

import math

import socketio
from chainlit.config import FeaturesSettings as ChainlitFeatures

from foundry_local_chat.config import DocumentLimits

MAX_MESSAGE_BYTES = 16 * 1024**2


def accept_long_messages(sio: socketio.AsyncServer) -> None:
    """python-engineio's default limit (1 MB) closes the socket on a longer message without a
    word to the browser, so a long paste looks like a dead chat. Up to this size a message
    arrives, and one the model cannot read is refused in the chat with its size."""
    sio.eio.max_http_buffer_size = MAX_MESSAGE_BYTES


def limit_uploads(features: ChainlitFeatures, limits: DocumentLimits) -> None:
    """Chainlit's upload button and its /project/file route take the limits from the settings
    (DOCUMENT_MAX_FILES, DOCUMENT_MAX_MB); .chainlit/config.toml switches uploads on. The chat
    checks the limits again (a client may skip the button)."""
    uploads = features.spontaneous_file_upload
    if uploads is None or not uploads.enabled:
        raise RuntimeError(".chainlit/config.toml must switch features.spontaneous_file_upload on")
    uploads.max_files = limits.max_files
    uploads.max_size_mb = math.ceil(limits.max_mb)
