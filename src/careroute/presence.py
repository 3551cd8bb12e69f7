"""Who is on shift now: the weekly schedule of the rule pack plus live changes (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time
from zoneinfo import ZoneInfo

from careroute.rules.schema import WEEKDAYS, Shift

#: Live presence a person sets; `available` defers to the shift schedule.
LIVE_STATES = ("available", "busy", "away", "off_shift")


def _parse(hours: str) -> tuple[time, time | None]:
    start, end = hours.split("-")
    end_t = None if end == "24:00" else time.fromisoformat(end)
    return time.fromisoformat(start), end_t


def on_shift(shifts: Sequence[Shift], at: datetime, zone: ZoneInfo) -> bool:
    """True when `at` falls in one of the weekly shifts, read on the practice's local wall clock.

    An empty schedule means always on shift. A shift whose end is before its
    start runs past midnight (an on-call night "18:00-08:00"); its early-morning
    part belongs to the day the shift started.
    """
    if not shifts:
        return True
    local = at.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    today = WEEKDAYS[local.weekday()]
    yesterday = WEEKDAYS[(local.weekday() - 1) % 7]
    for shift in shifts:
        start, end = _parse(shift.hours)
        if end is None or start < end:
            if today in shift.days and start <= clock and (end is None or clock < end):
                return True
        else:  # overnight
            if today in shift.days and clock >= start:
                return True
            if yesterday in shift.days and clock < end:
                return True
    return False


def effective_presence(live: str, shifts: Sequence[Shift], at: datetime, zone: ZoneInfo) -> str:
    """What the router sees: a live busy/away/off_shift wins; `available` holds only while on shift."""
    if live != "available":
        return live
    return "available" if on_shift(shifts, at, zone) else "off_shift"
