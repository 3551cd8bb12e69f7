"""Demo items for `make run`: a morning's inbound work at a fictional practice.

Each line carries `minutes_ago` instead of `received_at`, so the demo always
looks like this morning. External ids are fixed, so loading twice adds nothing.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from careroute.intake.contract import parse_item
from careroute.model import InboundItem

DEMO_FILE = Path(__file__).parent / "items.jsonl"


def demo_items(now: datetime) -> list[InboundItem]:
    out = []
    for line in DEMO_FILE.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        data = json.loads(line)
        minutes = data.pop("minutes_ago")
        data["received_at"] = (now - timedelta(minutes=minutes)).isoformat()
        out.append(parse_item(data))
    out.sort(key=lambda i: i.received_at)
    return out
