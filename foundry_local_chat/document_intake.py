"""Files attached to a message, taken into the chat's document store: each one checked against
the limits, read (documents.extract), split (chunking.chunk) and stored, or refused with the
reason. The reading runs in a worker thread: a long PDF must not hold up the other chats."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from foundry_local_chat.chunking import chunk
from foundry_local_chat.config import DocumentLimits
from foundry_local_chat.document_store import DocumentStore, Owner, StoredDocument
from foundry_local_chat.documents import DocumentRefused, ExtractedDocument, Problem, extract
from foundry_local_chat.errors import one_line

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upload:
    """A file as Chainlit saved it for the chat (path None: it was not saved)."""

    name: str
    path: Path | None


def _read(upload: Upload, limits: DocumentLimits) -> ExtractedDocument:
    if upload.path is None:
        raise DocumentRefused(upload.name, Problem.UNREADABLE, "the upload was not saved")
    try:
        if upload.path.stat().st_size > limits.max_bytes:
            raise DocumentRefused(upload.name, Problem.TOO_LARGE, f"{limits.max_mb:g}")
        data = upload.path.read_bytes()
    except OSError as error:
        raise DocumentRefused(upload.name, Problem.UNREADABLE, one_line(error)) from error
    return extract(upload.name, data)


async def take_in(
    store: DocumentStore, owner: Owner, uploads: Sequence[Upload], limits: DocumentLimits
) -> list[StoredDocument | DocumentRefused]:
    """What became of each upload, in order: stored, or refused (and why)."""
    outcomes: list[StoredDocument | DocumentRefused] = []
    for number, upload in enumerate(uploads):
        if number >= limits.max_files:
            outcomes.append(DocumentRefused(upload.name, Problem.TOO_MANY, str(limits.max_files)))
            continue
        try:
            document = await asyncio.to_thread(_read, upload, limits)
            chunks = await asyncio.to_thread(chunk, document)
        except DocumentRefused as refused:
            log.info("document refused: %s", refused)
            outcomes.append(refused)
            continue
        try:
            outcomes.append(await store.add(owner, document, chunks))
        except Exception as error:  # the database's own error, whatever its driver
            log.error("storing the document %s failed: %s", upload.name, error)
            outcomes.append(DocumentRefused(upload.name, Problem.NOT_STORED, one_line(error)))
    return outcomes
