"""The README's screenshots: My work and the queues board over the demo items, 1366 px wide.

    .venv/bin/python -m tests.e2e.readme_screenshots [--out docs/screenshots]

Not a test: it makes the two committed pictures again when the pages change.
A fresh SQLite store takes this morning's demo items (`careroute.demo`) on a
simulated clock at 10:40 on a Tuesday in New York; a few staff act on them (a
claim, a resolution, a hold; the billing desk away, so work waits
and work breaches), then Debian's headless Chromium signs in as Pam Thorne
(a coordinator) through the demo sign-in and photographs both pages: My work
whole, the board's first screen (queues, people, the top of the waiting list).
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from careroute.api import create_app
from careroute.config import STARTER_PACK
from careroute.demo import demo_items
from careroute.dispatcher import Dispatcher, SimulatedClock
from careroute.model import Task
from careroute.rules import load_pack
from careroute.store.repository import Store, row_to_task
from careroute.store.tables import tasks
from tests.conftest import DEMO, ROOT, LiveServer
from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS

NOW = datetime(2026, 10, 6, 14, 40, tzinfo=UTC)  # Tuesday 10:40 in New York
WIDTH = 1366
BOARD_HEIGHT = 1372


def shoot(page: Any, path: Path, **kw: Any) -> None:
    page.screenshot(path=str(path), animations="disabled", caret="hide", **kw)
    print(f"{path}: {path.stat().st_size / 1024:.0f} KB")


def all_tasks(dispatcher: Dispatcher) -> list[Task]:
    with dispatcher.store.read() as conn:
        return [row_to_task(r) for r in conn.execute(select(tasks).order_by(tasks.c.id))]


def demo_morning(dispatcher: Dispatcher) -> None:
    """The demo items, and the first hours of work on them, as a practice would have done it."""
    clock = dispatcher.clock
    assert isinstance(clock, SimulatedClock)
    dispatcher.set_presence("zara", "away")  # billing waits for her, scheduling goes to Pam
    dispatcher.intake_batch(demo_items(NOW), at_received=True)
    found = all_tasks(dispatcher)
    # The on-call clinician takes the critical lab minutes after it lands; the urgent voicemail still waits.
    emergent = [t for t in found if t.urgency == "emergent" and t.assignee]
    for t in emergent[:1]:
        clock.now = t.created_at + timedelta(minutes=6)
        dispatcher.claim(t.id, t.assignee or "")
    # Pam's morning: a wrong number closed, a records request in hand, a call-back waiting on the patient.
    pams: dict[str, list[Task]] = {}
    for t in found:
        if t.assignee == "pam":
            pams.setdefault(t.type, []).append(t)
    if pams.get("other"):  # the newest: the wrong-number voicemail
        wrong = pams["other"][-1]
        clock.now = max(NOW - timedelta(minutes=12), wrong.created_at + timedelta(minutes=2))
        dispatcher.claim(wrong.id, "pam")
        dispatcher.resolve(wrong.id, "pam", "wrong number, nothing to do")
    if pams.get("records_request"):
        clock.now = NOW - timedelta(minutes=35)
        dispatcher.claim(pams["records_request"][0].id, "pam")
    if pams.get("appointment_callback"):  # the oldest: the reschedule, asked a day ago
        call = pams["appointment_callback"][0]
        clock.now = call.created_at + timedelta(minutes=30)
        dispatcher.hold(call.id, "the patient to call back with a day", "pam")
    clock.now = NOW


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = p.parse_args()
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="careroute-shots-") as tmp:
        store = Store.from_url(f"sqlite:///{tmp}/demo.db")
        store.migrate()
        dispatcher = Dispatcher(store, load_pack(STARTER_PACK), clock=SimulatedClock(NOW))
        dispatcher.load_pack()
        demo_morning(dispatcher)
        with LiveServer(create_app(dispatcher, security=DEMO)) as server, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            context = browser.new_context(viewport={"width": WIDTH, "height": 900}, reduced_motion="reduce")
            page = context.new_page()
            page.goto(f"{server.url}/signin")
            page.get_by_role("button", name="Pam Thorne").click()
            page.locator("#live-state:not([hidden])").wait_for()
            page.mouse.move(0, 0)  # no hover styles in the picture
            shoot(page, args.out / "my-work.png", full_page=True)
            page.goto(f"{server.url}/board")
            page.locator("#live-state:not([hidden])").wait_for()
            # The whole board is long (every waiting task has its pickers): its first screen says what it is.
            clip = {"x": 0, "y": 0, "width": WIDTH, "height": BOARD_HEIGHT}
            shoot(page, args.out / "board.png", full_page=True, clip=clip)
            context.close()
            browser.close()
        store.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
