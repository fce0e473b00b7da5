"""On start: an answer still marked as being written was cut when the app stopped (a crash, a
kill -9, a power cut). It keeps what had been saved, and is marked cut with that reason; a
resumed thread shows it with a note (ui/reattach.py).

With several app instances on one database, an instance that starts also marks the answers
another instance is writing at that moment; that instance's next save (within
CHECKPOINT_SECONDS) marks them in progress again, and its last save replaces the mark.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from foundry_local_chat.answers.live import CUT_KEY, IN_PROGRESS_KEY, CutReason
from foundry_local_chat.history.data_layer import ChatDataLayer

log = logging.getLogger(__name__)

# Both databases write a JSON object's members as `"key": value` (SQLite: the app's json.dumps;
# PostgreSQL: jsonb's text form).
MARKED = f'%"{IN_PROGRESS_KEY}": true%'


def _metadata(raw: Any) -> dict[str, Any]:
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            return {}
    return raw if isinstance(raw, dict) else {}


def cut_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """An in-progress answer's metadata once it is known to be cut by the app stopping."""
    marked = {key: value for key, value in metadata.items() if key != IN_PROGRESS_KEY}
    return {**marked, CUT_KEY: str(CutReason.APP_STOPPED), "stopped": True}


async def mark_interrupted(layer: ChatDataLayer) -> int:
    """Mark every answer left in progress as cut; returns how many there were."""
    rows = await layer.execute_sql(
        'SELECT "id", "metadata" FROM steps WHERE CAST("metadata" AS TEXT) LIKE :marked',
        {"marked": MARKED},
    )
    count = 0
    for row in rows if isinstance(rows, list) else []:
        metadata = _metadata(row.get("metadata"))
        if not metadata.get(IN_PROGRESS_KEY):
            continue
        await layer.execute_sql(
            'UPDATE steps SET "metadata" = :metadata WHERE "id" = :id',
            {"metadata": cut_metadata(metadata), "id": row["id"]},
        )
        count += 1
    if count:
        log.warning("%d answers were being written when the app stopped: marked as cut", count)
    return count
