"""Rule packs the benchmarks run with: the starter pack with staff who are always on and may take any work."""

from __future__ import annotations

from typing import Any

import yaml

from careroute.config import STARTER_PACK

STAFF = 20


def all_hands(staff: int = STAFF, capacity: int = 500) -> dict[str, Any]:
    """The starter pack with `staff` clinicians (MD) who serve every queue, with no shifts (on at any hour,
    so figures do not depend on when the benchmark runs) and a large capacity (pushes never run dry)."""
    data: dict[str, Any] = yaml.safe_load(STARTER_PACK.read_text())
    queues = [q["id"] for q in data["queues"]]
    data["staff"] = [
        {"id": f"s{i:02d}", "name": f"Staff {i}", "credential": "MD", "queues": queues, "capacity": capacity}
        for i in range(staff)
    ]
    data["rosters"] = {"on_call": ["s00", "s01", "s02"]}
    for role in data["escalation"]["roles"].values():
        role.pop("by_queue", None)
        role.pop("person", None)
    return data


def dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False)
