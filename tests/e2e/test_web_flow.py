"""The whole day's loop in a real headless Chromium, as issue 9's "done when" reads it.

Sign in (demo), see an item posted to the JSON API arrive live on My work,
claim it, reroute it with a reason code and words, read the claim and the
reroute on the task's timeline, and see the scoreboard move. A screenshot of
every page on the way goes to var/screenshots/ (flow-*.png). SQLite only, like
test_web_browser.py: the pages' queries run on both databases in test_web_http.py.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from careroute.dispatcher import Dispatcher
from tests.conftest import LiveServer, make_item
from tests.e2e.conftest import post_item, screenshot

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
# The pages forbid eval by their CSP, so waits use Playwright's locator assertions, not wait_for_function.
expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect

WHY = "asks for a copy of the last visit note"


def this_week(page: Any) -> dict[str, str]:
    """The scoreboard's figures for the current week, from the table behind the charts (opened as a person would)."""
    page.get_by_text("The numbers behind the charts").click()
    row = page.locator("details tbody tr").last
    return {cell.get_attribute("data-metric"): cell.inner_text() for cell in row.locator("td[data-metric]").all()}


def test_sign_in_then_a_task_arrives_live_is_claimed_rerouted_and_shows_on_timeline_and_scoreboard(
    page: Any, web_server: LiveServer, http: httpx.Client, dispatcher: Dispatcher
) -> None:
    # This week so far: one refill, resolved at first contact, never rerouted.
    earlier = dispatcher.intake(make_item("portal-0")).task_id
    dispatcher.claim(earlier, "luis")
    dispatcher.resolve(earlier, "luis")
    page.goto(f"{web_server.url}/scoreboard")
    before = this_week(page)
    assert before["tasks"] == "1" and before["reroute_rate"] == "0%"
    screenshot(page, "flow-1-scoreboard-before")

    # Sign in from the start page: the header says it is a demo, and who is signed in.
    page.goto(web_server.url)
    page.get_by_role("main").get_by_role("link", name="Sign in").click()
    expect(page.get_by_role("banner").get_by_text("Demo sign-in — no password")).to_be_visible()
    screenshot(page, "flow-2-signin")
    page.get_by_role("button", name="Luis Serrano").click()
    expect(page).to_have_url(f"{web_server.url}/my/luis")
    expect(page.locator("#signed-in-as")).to_have_text("Luis Serrano")
    page.evaluate("window.__careroute_marker = 'still here'")  # gone if the page ever reloads
    page.locator("#live-state:not([hidden])").wait_for()  # the event stream is open

    # An intake adapter posts a refill request: it is pushed to luis and appears without a reload.
    task_id = post_item(http, "portal-1", subject="refill of lisinopril")
    row = page.locator(f"#task-{task_id}")
    expect(row).to_contain_text("refill of lisinopril", timeout=6_000)
    expect(row.locator(".s-assigned")).to_be_visible()
    screenshot(page, "flow-3-my-work-arrived")

    row.get_by_role("button", name=f"Claim task {task_id}").click()
    expect(row.locator(".s-claimed")).to_be_visible()

    # It is not a refill at all: move it to Records, with the coded reason and the words.
    row.get_by_text("Reroute…").click()
    row.get_by_label("Move to queue").select_option("records")
    row.get_by_label("Reason").select_option("wrong_type")
    row.get_by_label("Why (optional)").fill(WHY)
    screenshot(page, "flow-4-my-work-rerouting")
    row.get_by_role("button", name=f"Reroute task {task_id}").click()
    expect(row).to_contain_text(re.compile(r"now with \w+|no longer yours"))
    expect(row.locator(".s-claimed")).to_have_count(0)
    assert page.url == f"{web_server.url}/my/luis"
    assert page.evaluate("window.__careroute_marker") == "still here"
    screenshot(page, "flow-5-my-work-rerouted")

    # The task page: the timeline holds the claim and the reroute, by luis, with the reason.
    row.get_by_role("link", name=f"Task {task_id}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(f"^Task {task_id}: "))
    timeline = page.locator("ol.timeline li")
    kinds = timeline.locator(".kind").all_inner_texts()
    assert kinds[:3] == ["created", "classified", "routed"]
    assert kinds.index("claimed") < kinds.index("rerouted")
    claimed = timeline.filter(has=page.locator(".kind", has_text=re.compile("^claimed$")))
    expect(claimed).to_contain_text("by luis")
    rerouted = timeline.filter(has=page.locator(".kind", has_text=re.compile("^rerouted$")))
    expect(rerouted).to_contain_text("by luis")
    expect(rerouted).to_contain_text("queue Records")
    expect(rerouted).to_contain_text(WHY)
    expect(rerouted).to_contain_text("reason code: wrong_type")
    screenshot(page, "flow-6-task")

    # The scoreboard has moved: one more task this week, and now half of them rerouted.
    page.get_by_role("navigation").get_by_role("link", name="Scoreboard").click()
    after = this_week(page)
    assert after["tasks"] == "2" and after["reroute_rate"] == "50%"
    assert after != before
    screenshot(page, "flow-7-scoreboard-after")
