"""`careroute simulate`: run a file of items through a pack and a roster on the simulated clock.

The pure engine is careroute.simulate; this module turns items into arrivals
with the pack's own classifier and routing, so a what-if run decides exactly
as the live dispatcher would.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter, ValidationError

from careroute.dispatcher import pack_classifier
from careroute.metrics import Metrics
from careroute.model import InboundItem
from careroute.routing import choose_queue
from careroute.rules.loader import LoadedPack
from careroute.rules.schema import StaffSpec
from careroute.simulate import (
    Arrival,
    HandlingTime,
    PackEscalations,
    report,
    requirements_from_pack,
    roster_from_pack,
    simulate,
)

#: Time a person spends on one task, by type (median, p90): practice benchmarks until observed times replace them.
DEFAULT_HANDLING: dict[str, tuple[float, float]] = {
    "clinical_urgent": (10, 25),
    "clinical_question": (8, 20),
    "medication_refill": (4, 12),
    "lab_result_urgent": (6, 15),
    "lab_result_routine": (3, 8),
    "referral_packet": (12, 30),
    "prior_auth_pending": (15, 45),
    "billing_inquiry": (6, 15),
    "appointment_callback": (4, 10),
    "records_request": (8, 20),
    "other": (2, 5),
}


class RosterError(ValueError):
    """A roster file that cannot be used; the message names the file and the field."""


def load_roster(path: Path) -> list[StaffSpec]:
    """A YAML roster: `staff:` followed by entries in the rule pack's staff format."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RosterError(f"{path}: cannot read a YAML roster ({type(exc).__name__})") from None
    entries = data.get("staff") if isinstance(data, dict) else data
    try:
        return TypeAdapter(list[StaffSpec]).validate_python(entries)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RosterError(f"{path}, staff.{where}: {first['msg']}") from None


def arrivals(items: Sequence[InboundItem], pack: LoadedPack) -> list[Arrival]:
    classify = pack_classifier(pack)
    out = []
    for item in items:
        c = classify(item)
        choice = choose_queue(item, c, pack.spec, open_now=pack.calendar.is_open(item.received_at))
        out.append(
            Arrival(
                at=item.received_at,
                type=c.type,
                urgency=c.urgency,
                queue=choice.queue,
                channel=item.channel,
                external_id=item.external_id,
                rule_id=choice.rule_id,
                effort=pack.spec.tags[c.type].effort,
                skills=choice.skills,
                pilot_arm=choice.pilot_arm,
            )
        )
    return out


def run(
    items: Sequence[InboundItem],
    pack: LoadedPack,
    roster: Sequence[StaffSpec] | None = None,
    *,
    seed: int = 0,
    horizon: timedelta = timedelta(days=3),
) -> Metrics:
    """The four metrics of the items worked by the roster under the pack's rules."""
    spec = pack.spec if roster is None else pack.spec.model_copy(update={"staff": list(roster)})
    handling = {t: HandlingTime(timedelta(minutes=m), timedelta(minutes=p)) for t, (m, p) in DEFAULT_HANDLING.items()}
    arrived = arrivals(items, pack)
    until = max(a.at for a in arrived) + horizon if arrived else None
    events = simulate(
        arrived,
        roster_from_pack(spec),
        handling,
        zone=pack.calendar.zone,
        seed=seed,
        until=until,
        requirements=requirements_from_pack(spec),
        escalations=PackEscalations(spec.escalation, pack.calendar, spec.sla),
        pack_version=pack.version,
    )
    return report(events, targets=spec.metrics)


def describe(m: Metrics) -> list[str]:
    def pct(v: Any) -> str:
        return "n/a" if v is None else f"{100 * v:.1f}%"

    lines = [f"tasks {m.tasks}"]
    for urgency, stat in sorted(m.queue_age.items()):
        med = "n/a" if stat.median is None else f"{stat.median.total_seconds() / 60:.1f} min"
        p90 = "n/a" if stat.p90 is None else f"{stat.p90.total_seconds() / 60:.1f} min"
        target = "" if stat.target is None else f" (target < {stat.target.total_seconds() / 60:.0f} min)"
        lines.append(f"queue age {urgency}: median {med}, p90 {p90}{target}")
    lines.append(f"still waiting at the end: {m.still_waiting.tasks}")
    lines.append(f"reroute rate {pct(m.reroute_rate.value)} (target < {pct(m.reroute_rate.target)})")
    lines.append(
        f"first-contact resolution {pct(m.first_contact_resolution.value)} "
        f"(target > {pct(m.first_contact_resolution.target)})"
    )
    lines.append(f"escalation rate {pct(m.escalation_rate.value)} (target < {pct(m.escalation_rate.target)})")
    return lines
