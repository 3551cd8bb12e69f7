"""The pages in a real headless Chromium (Debian's), against a live server on loopback.

These run on SQLite only: the pages' queries are covered on both databases by
test_web_http.py, and a browser run per database would double the slowest tests.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from careroute.dispatcher import Dispatcher, SimulatedClock
from tests.conftest import LiveServer, make_item
from tests.e2e.conftest import post_item, screenshot

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
# The pages forbid eval by their CSP, so waits use Playwright's locator assertions, not wait_for_function.
expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect

CHEST = "I have had chest pain since this morning, no shortness of breath. Took an aspirin."


def mark_page(page: Any) -> None:
    """A value that survives only as long as the document: gone after any full reload."""
    page.evaluate("window.__careroute_marker = 'still here'")


def not_reloaded(page: Any, url: str) -> None:
    assert page.url == url
    assert page.evaluate("window.__careroute_marker") == "still here"


def test_it_claims_resolves_reroutes_and_reopens_from_my_work_without_reload(
    page: Any, web_server: LiveServer, http: httpx.Client
) -> None:
    first = post_item(http, "portal-1", subject="refill please")
    second = post_item(http, "portal-2", subject="another refill")
    url = f"{web_server.url}/my/luis"
    page.goto(url)
    mark_page(page)
    row = page.locator(f"#task-{first}")
    row.get_by_role("button", name=f"Claim task {first}").click()
    row.locator(".s-claimed").wait_for()

    # Keyboard: j moves to the first row, r resolves it.
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.id") == f"task-{first}"
    page.keyboard.press("r")
    row.locator(".s-resolved").wait_for()
    row.get_by_role("button", name=f"Reopen task {first}").wait_for()

    # A refusal comes back inline as a sentence: a hold needs to say what it waits on.
    other = page.locator(f"#task-{second}")
    other.get_by_text("Hold…").click()
    other.get_by_label("Waiting on").fill("   ")
    other.get_by_role("button", name=f"Put task {second} on hold").click()
    assert other.locator(".error").inner_text() == "Say what the task is waiting on."

    # Reroute with a coded reason and free text.
    other.get_by_text("Reroute…").click()
    other.get_by_label("Move to queue").select_option("records")
    other.get_by_label("Reason").select_option("wrong_type")
    other.get_by_label("Why (optional)").fill("a records request")
    other.get_by_role("button", name=f"Reroute task {second}").click()
    expect(other.locator(".s-assigned")).to_have_count(0)

    row.get_by_role("button", name=f"Reopen task {first}").click()
    expect(row.locator(".s-resolved")).to_have_count(0)
    not_reloaded(page, url)
    timeline = http.get(f"/v1/tasks/{second}").json()["events"]
    assert [e["kind"] for e in timeline][-1] in ("rerouted", "assigned")
    screenshot(page, "my-work")


def test_a_new_item_appears_live_on_my_work(page: Any, web_server: LiveServer, http: httpx.Client) -> None:
    url = f"{web_server.url}/my/luis"
    page.goto(url)
    mark_page(page)
    page.locator("#live-state:not([hidden])").wait_for()  # the event stream is open
    task_id = post_item(http, "portal-9", subject="refill of lisinopril")
    page.locator(f"#task-{task_id}").wait_for(timeout=6_000)
    assert "refill of lisinopril" in page.locator(f"#task-{task_id}").inner_text()
    # n pulls the next task: nothing else waits for luis, and he is told so.
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("n")
    page.get_by_text("Nothing is waiting that you can take.").wait_for()
    not_reloaded(page, url)


def test_a_form_opened_while_a_live_refresh_is_on_its_way_is_kept(
    page: Any, web_server: LiveServer, http: httpx.Client
) -> None:
    first = post_item(http, "portal-1", subject="refill please")
    url = f"{web_server.url}/my/luis"
    held: list[Any] = []
    # Hold the list's live refresh in the network until the form is open, as a slow server would.
    page.route("**/ui/my/luis/list", lambda route: held.append(route))
    page.goto(url)
    mark_page(page)
    page.locator("#live-state:not([hidden])").wait_for()
    second = post_item(http, "portal-2", subject="another refill")  # an event: the list asks for a fresh copy
    for _ in range(50):
        if held:
            break
        page.wait_for_timeout(100)
    assert held, "the live refresh was never asked for"
    row = page.locator(f"#task-{first}")
    row.get_by_text("Reroute…").click()
    select = row.get_by_label("Move to queue")
    expect(select).to_be_visible()
    page.route("**/ui/my/luis/list", lambda route: route.continue_())  # later refreshes go straight through
    for route in list(held):
        route.continue_()
    # The fresh copy arrived and was not swapped in under the open form: it is offered instead.
    expect(page.locator("#my-list .pending")).to_be_visible()
    expect(select).to_be_visible()
    select.select_option("records")
    assert page.locator(f"#task-{second}").count() == 0  # not shown until asked for
    page.locator("#my-list .pending button").click()
    expect(page.locator(f"#task-{second}")).to_be_visible()
    not_reloaded(page, url)


def test_a_new_item_appears_live_on_the_board(page: Any, web_server: LiveServer, http: httpx.Client) -> None:
    url = f"{web_server.url}/board"
    page.goto(url)
    mark_page(page)
    depth = page.locator("#queue-clinical_triage .depth")
    assert depth.inner_text() == "0"
    page.locator("#live-state:not([hidden])").wait_for()
    post_item(http, "portal-9", body=CHEST)
    expect(depth).to_have_text("1", timeout=6_000)
    not_reloaded(page, url)


def test_the_board_shows_a_breach_and_reassigns(
    page: Any, web_server: LiveServer, http: httpx.Client, dispatcher: Dispatcher
) -> None:
    dispatcher.set_presence("luis", "away")  # nobody takes the refill: it waits past its claim target
    task_id = post_item(http, "portal-1")
    post_item(http, "portal-2", body=CHEST)
    assert isinstance(dispatcher.clock, SimulatedClock)
    dispatcher.clock.now += timedelta(hours=5)
    page.goto(f"{web_server.url}/board")
    assert "breach" in (page.locator("#queue-refills").get_attribute("class") or "")
    assert page.locator("#queue-refills").get_by_text("1 breached").is_visible()
    row = page.locator(f"#board-task-{task_id}")
    assert row.get_by_text("Breached:").is_visible()
    row.get_by_label(f"Give task {task_id} to").select_option("rhea")
    row.get_by_label("Acting as").select_option("pam")
    row.get_by_role("button", name="Assign").click()
    row.get_by_text("may not take medication_refill tasks").wait_for()
    # Presence switcher: luis is back, the refill is pushed to him, and the board follows live.
    page.get_by_label("Presence of Luis Serrano").select_option("available")
    expect(page.locator(f"#board-task-{task_id} .with")).to_contain_text("luis", timeout=6_000)
    screenshot(page, "board")


def test_the_task_page_shows_highlighted_evidence_and_the_timeline(
    page: Any, web_server: LiveServer, http: httpx.Client
) -> None:
    task_id = post_item(http, "portal-1", body=CHEST, subject="chest pain")
    page.goto(f"{web_server.url}/tasks/{task_id}")
    marks = page.locator(".message mark.ev")
    assert marks.count() == 3
    negated = page.locator(".message mark.ev.negated")
    assert negated.count() == 1 and negated.inner_text().startswith("shortness of breath")
    kinds = page.locator("ol.timeline .kind").all_inner_texts()
    assert kinds[:3] == ["created", "classified", "routed"]
    assert page.get_by_role("heading", name="Clocks").is_visible()
    assert "America/New_York" in page.locator("footer").inner_text()
    screenshot(page, "task")


def test_the_rules_page_shows_the_pack_in_plain_language(page: Any, web_server: LiveServer) -> None:
    page.goto(f"{web_server.url}/rules")
    assert page.get_by_role("heading", name="Routing rules").is_visible()
    assert page.get_by_text("Read top to bottom; the first rule that fits an item decides its queue.").is_visible()
    assert page.get_by_role("heading", name="Misfiring rules").is_visible()
    screenshot(page, "rules")


def seed_weeks(dispatcher: Dispatcher, weeks: int = 4) -> None:
    """A few weeks of history on the simulated clock: arrivals, claims a little later each week, a reroute."""
    clock = dispatcher.clock
    assert isinstance(clock, SimulatedClock)
    start = clock.now - timedelta(weeks=weeks - 1)
    for w in range(weeks):
        for i in range(6):
            clock.now = start + timedelta(weeks=w, days=i % 5, hours=i)
            task_id = dispatcher.intake(make_item(f"w{w}-{i}", received_at=clock.now)).task_id
            clock.now += timedelta(minutes=20 + 40 * w + 5 * i)
            if i == 5 and w >= 2:
                dispatcher.reroute(task_id, "records", "a records request", "luis", "wrong_type")
                continue
            dispatcher.claim(task_id, "luis")
            dispatcher.resolve(task_id, "luis")
    clock.now += timedelta(hours=1)


def test_the_scoreboard_renders_charts_and_downloads_csv(
    page: Any, web_server: LiveServer, dispatcher: Dispatcher
) -> None:
    seed_weeks(dispatcher)
    page.goto(f"{web_server.url}/scoreboard")
    assert page.locator("svg.chart").count() == 7  # 3 queue-age charts, 3 rates, 1 heatmap
    assert page.locator("svg.chart:not(.heatmap) g.bar").count() >= 4 * 4  # a bar per week in each rate chart
    assert page.locator("figcaption").first.inner_text() == "Queue age, emergent tasks (median)"
    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    path = download.value.path()
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    assert lines[0].startswith("period,dimension,value,tasks")
    assert sum(1 for line in lines if ",all,all," in line) == 4 + 1  # four weeks and the whole range
    screenshot(page, "scoreboard")


def test_the_home_page_leads_to_the_demo_sign_in_and_back_out(page: Any, web_server: LiveServer) -> None:
    page.goto(web_server.url)
    assert page.get_by_text("Demo sign-in — no password").is_visible()
    screenshot(page, "home")
    page.get_by_role("main").get_by_role("link", name="Sign in").click()
    page.get_by_role("button", name="Luis Serrano").click()
    page.get_by_role("heading", name="My work: Luis Serrano").wait_for()
    assert page.locator("#signed-in-as").inner_text() == "Luis Serrano"
    assert page.get_by_role("navigation").get_by_role("link", name="My work").get_attribute("aria-current") == "page"
    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("heading", name="Sign in").wait_for()
    assert page.locator("#signed-in-as").count() == 0
    screenshot(page, "signin")
