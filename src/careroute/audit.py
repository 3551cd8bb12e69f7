"""The event log made tamper-evident: each event carries a hash chained to the one before it.

hash = SHA-256(previous hash + the event's content in canonical JSON). Editing an
event breaks its own hash; deleting or re-ordering events breaks the link of the
next one. `careroute audit verify` walks the log and names the first row of each
break. (A chain proves the log was not altered behind careroute's back; keeping a
copy of the latest hash elsewhere proves the tail was not cut off.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
CHAINED_FIELDS = ("task_id", "kind", "at", "actor", "queue", "assignee", "rule_ids", "reason", "data", "pack_version")


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        # UTC, as the store gives it back: the hash must not depend on the offset it was written with.
        return value.astimezone(UTC).isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def event_hash(prev_hash: str, event: Mapping[str, Any]) -> str:
    content = {name: _canonical(event.get(name)) for name in CHAINED_FIELDS}
    payload = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()


def chain(prev_hash: str, rows: list[dict[str, Any]]) -> str:
    """Give each new row its prev_hash and hash, in order; returns the last hash."""
    for row in rows:
        row["prev_hash"] = prev_hash
        row["hash"] = prev_hash = event_hash(prev_hash, row)
    return prev_hash


@dataclass(frozen=True)
class Break:
    event_id: int
    problem: str


def verify(rows: Iterable[Mapping[str, Any]]) -> Iterator[Break]:
    """Each break in a log read in id order: an edited event, or a link to a missing or moved one."""
    expected_prev = GENESIS
    for row in rows:
        event_id = int(row["id"])
        if row["prev_hash"] != expected_prev:
            yield Break(event_id, "does not follow the event before it: an event was deleted or moved here")
        if event_hash(str(row["prev_hash"]), row) != row["hash"]:
            yield Break(event_id, "its content does not match its hash: the event was edited")
        expected_prev = str(row["hash"])
