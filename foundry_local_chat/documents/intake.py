"""Files attached to a message, taken into the chat's document store: each one checked against
the limits, read (documents.extract) and split (chunking.chunk) in a worker process of its own
(documents/reader.py: a hostile PDF costs that process, within its limits, not the server), and
stored, or refused with the reason."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from foundry_local_chat.documents.extract import DocumentRefused, Problem
from foundry_local_chat.documents.reader import DocumentReader
from foundry_local_chat.documents.store import DocumentStore, Owner, StoredDocument
from foundry_local_chat.errors import one_line

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Upload:
    """A file as Chainlit saved it for the chat (path None: it was not saved)."""

    name: str
    path: Path | None


def reader_of(owner: Owner) -> str:
    """Whom the per-user limit on reading counts: the signed-in user, else the chat."""
    return f"user:{owner.user_id}" if owner.user_id else f"chat:{owner.thread_id}"


async def take_in(
    store: DocumentStore, owner: Owner, uploads: Sequence[Upload], reader: DocumentReader
) -> list[StoredDocument | DocumentRefused]:
    """What became of each upload, in order: stored, or refused (and why)."""
    limits = reader.limits
    outcomes: list[StoredDocument | DocumentRefused] = []
    for number, upload in enumerate(uploads):
        if number >= limits.max_files:
            outcomes.append(DocumentRefused(upload.name, Problem.TOO_MANY, str(limits.max_files)))
            continue
        try:
            document, chunks = await reader.read(reader_of(owner), upload.name, upload.path)
        except DocumentRefused as refused:
            log.info("document refused: %s", refused)
            outcomes.append(refused)
            continue
        try:
            outcomes.append(await store.add(owner, document, chunks, _size(upload)))
        except Exception as error:  # the database's own error, whatever its driver
            log.error("storing the document %s failed: %s", upload.name, error)
            outcomes.append(DocumentRefused(upload.name, Problem.NOT_STORED, one_line(error)))
    return outcomes


def _size(upload: Upload) -> int | None:
    try:
        return upload.path.stat().st_size if upload.path is not None else None
    except OSError:  # gone already: the list shows its text's size instead
        return None
