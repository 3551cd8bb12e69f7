"""An administrator changes the rules in a real headless Chromium: edit, preview on real history, publish, roll back.

SQLite only, like the other browser tests. The demo sign-in makes everyone an
admin (and a clinical one); the override's clinical check is covered with a
non-clinical admin in tests/integration/test_rule_publish.py.
"""

from __future__ import annotations

import re
import threading
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from careroute.dispatcher import Dispatcher
from tests.conftest import LiveServer
from tests.e2e.conftest import post_item, screenshot

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
expect = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed").expect

PARKING = "Do you do parking validation at the new building?"
CHEST = "I have had chest pain since this morning, pressure into my jaw."


def sign_in(page: Any, url: str) -> None:
    page.goto(f"{url}/signin")
    page.get_by_role("button", name="Pam Thorne").click()
    expect(page.locator("#signed-in-as")).to_have_text("Pam Thorne")


def start_draft(page: Any, url: str) -> None:
    page.goto(f"{url}/rules")
    page.get_by_role("link", name="Change the rules").click()
    page.get_by_role("button", name="Start a draft from the live pack").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Draft \d+"))


def preview(page: Any, hold: threading.Event | None = None) -> None:
    page.get_by_role("button", name="Preview against the live pack").click()
    if hold is not None:
        # While the replay waits its turn (another preview holds the worker), the page shows a progress
        # bar and polls it; the page itself stays as it was, usable, and is never reloaded.
        bar = page.locator("#preview-progress progress")
        expect(bar).to_be_visible()
        page.evaluate("window.__careroute_marker = 'still here'")
        page.locator("#preview-progress").wait_for()
        expect(page.get_by_role("button", name="Preview against the live pack")).to_be_disabled()
        hold.set()
    expect(page.locator("#preview-result")).to_be_visible(timeout=60_000)
    if hold is not None:
        assert page.evaluate("window.__careroute_marker") == "still here"


def test_an_admin_adds_a_keyword_previews_publishes_sees_it_decide_and_rolls_back(
    page: Any, web_server: LiveServer, http: httpx.Client, dispatcher: Dispatcher, web_app: FastAPI
) -> None:
    first_version = dispatcher.pack.version
    parking = post_item(http, "portal-1", body=PARKING)
    post_item(http, "portal-2")
    url = web_server.url
    sign_in(page, url)
    start_draft(page, url)
    page.locator("#keywords-billing_inquiry summary").click()
    page.get_by_label("The practice's phrases for billing questions").fill("parking validation")
    page.get_by_role("button", name="Save phrases for billing questions").click()
    expect(page.locator("#saved")).to_have_text("Saved to the draft.")

    hold = threading.Event()
    web_app.state.rule_admin._pool.submit(hold.wait, 30)  # the worker is busy until the test lets go
    preview(page, hold)
    expect(page.locator("#changed-type")).to_have_text("1")
    expect(page.locator("#preview-items")).to_have_text("2")
    examples = page.locator("#preview-examples")
    expect(examples.get_by_role("link", name=f"Task {parking}")).to_be_visible()
    # Whatever the live pack made of it before, the draft makes it a billing question.
    expect(examples).to_contain_text(re.compile(r"type \w+ → billing_inquiry"))
    expect(examples).to_contain_text("parking validation")  # the excerpt an admin judges the change by
    screenshot(page, "rules-preview")

    page.get_by_label("Why this change").fill("parking questions are billing's")
    page.get_by_role("button", name=re.compile("Publish version")).click()
    new_version = dispatcher.pack.version
    assert new_version != first_version
    expect(page.locator("#live-version")).to_have_text(new_version)
    expect(page.locator("#publishes")).to_contain_text("parking questions are billing's")
    expect(page.locator("#publishes")).to_contain_text("Billing questions are also recognised by: 'parking validation'")
    expect(page.locator("#where-versions-live")).to_contain_text("Published versions live in careroute's store")

    exported = http.get(f"/rules/versions/{new_version}.yaml")
    assert exported.status_code == 200 and "parking validation" in exported.text

    # A new item is decided by the new version; the old task keeps the version that decided it.
    again = post_item(http, "portal-3", body=PARKING)
    page.goto(f"{url}/tasks/{again}")
    expect(page.get_by_text(f"rule pack {new_version}")).to_be_visible()
    expect(page.get_by_text("Billing question").first).to_be_visible()
    page.goto(f"{url}/tasks/{parking}")
    expect(page.get_by_text(f"rule pack {first_version}")).to_be_visible()

    page.goto(f"{url}/rules/admin")
    page.locator("#all-versions").get_by_role("button", name=f"Roll back to version {first_version}").click()
    expect(page.locator("#live-version")).to_have_text(first_version)
    assert dispatcher.pack.version == first_version
    audit = page.locator("#rule-audit")
    for action in ("draft", "edit", "preview", "publish", "rollback"):
        expect(audit.get_by_role("cell", name=action, exact=True).first).to_be_visible()
    screenshot(page, "rules-admin")


def test_an_urgent_clinical_item_sent_to_a_desk_blocks_publishing_until_overridden(
    page: Any, web_server: LiveServer, http: httpx.Client, dispatcher: Dispatcher
) -> None:
    chest = post_item(http, "portal-1", body=CHEST)
    first = dispatcher.pack.version
    url = web_server.url
    sign_in(page, url)
    start_draft(page, url)
    for rule in ("route.possible_danger", "route.high_urgency"):
        page.get_by_text(rule, exact=True).click()
        form = page.locator("form", has=page.get_by_role("button", name=f"Save rule {rule}"))
        form.get_by_label("Queue").select_option("scheduling")
        form.get_by_role("button", name=f"Save rule {rule}").click()
        expect(page.locator("#saved")).to_be_visible()
    preview(page)
    blocking = page.locator("#preview-blocking")
    expect(blocking).to_contain_text("1 emergent or urgent items would leave a clinical queue")
    expect(blocking.get_by_role("link", name=f"Task {chest}")).to_be_visible()

    page.get_by_label("Why this change").fill("desk triage pilot")
    page.get_by_role("button", name=re.compile("Publish version")).click()
    expect(page.get_by_role("alert").first).to_contain_text("a clinical admin must override")
    assert dispatcher.pack.version == first

    page.get_by_label("Why this change").fill("desk triage pilot")
    page.get_by_label("Clinical admin override").fill("RN on the desk this week")
    page.get_by_role("button", name=re.compile("Publish version")).click()
    expect(page.locator("#publishes")).to_contain_text("Override by")
    assert dispatcher.pack.version != first
    audit = page.locator("#rule-audit")
    expect(audit.get_by_role("cell", name="override", exact=True)).to_be_visible()
    expect(audit).to_contain_text("RN on the desk this week")


def test_the_rule_pages_need_a_signed_in_admin(dispatcher: Dispatcher) -> None:
    from careroute.api import create_app
    from careroute.rule_admin import RuleAdmin

    with LiveServer(create_app(dispatcher)) as server, httpx.Client(base_url=server.url) as client:
        for path in ("/rules/admin", "/rules/drafts/1", f"/rules/versions/{dispatcher.pack.version}.yaml"):
            r = client.get(path)
            assert r.status_code == 303 and r.headers["location"].startswith("/signin"), path
        r = client.post("/rules/drafts", data={"csrf": ""})
        assert r.status_code in (401, 403)
        r = client.post(f"/rules/versions/{dispatcher.pack.version}/rollback", data={"csrf": ""})
        assert r.status_code in (401, 403)
    assert RuleAdmin(dispatcher).drafts() == []
