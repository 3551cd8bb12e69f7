"""The web pages over plain HTTP (no browser), on SQLite and PostgreSQL: every page, every refusal."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
from fastapi import FastAPI

from careroute.config import STARTER_PACK
from careroute.dispatcher import Dispatcher, SimulatedClock
from careroute.rules import load_pack_text
from careroute.web import data
from careroute.web.routes_rules import pack_html
from tests.conftest import LiveServer, make_item
from tests.e2e.conftest import HTMX, post_item

SECRET = "Zebulon Quartermaine"  # stands in for PHI: it must never come back where it does not belong
CHEST = "I have had chest pain since this morning, no shortness of breath."


def test_every_page_answers_200_with_strict_headers(http: httpx.Client) -> None:
    task_id = post_item(http, "portal-1", subject="refill please")
    pages = ["/", "/signin", "/my/luis", "/board", f"/tasks/{task_id}", "/rules", "/scoreboard"]
    fragments = ["/ui/my/luis/list", "/ui/board/queues", "/ui/board/people", "/ui/board/tasks"]
    for url in pages + fragments:
        r = http.get(url)
        assert r.status_code == 200, (url, r.text[:500])
        assert r.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert r.headers["cache-control"] == "no-store"
    assert "<html" in http.get("/").text and "<html" not in http.get("/ui/board/queues").text
    assert http.get("/static/vendor/htmx.min.js").status_code == 200
    assert http.get("/static/app.css").status_code == 200


def test_unknown_task_and_staff_are_html_404_pages(http: httpx.Client) -> None:
    for url in ("/tasks/999", "/my/nobody"):
        r = http.get(url)
        assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
        assert "Not found" in r.text


def test_my_work_lists_my_tasks_most_urgent_first(http: httpx.Client) -> None:
    refill = post_item(http, "portal-1", subject="refill please")
    records = post_item(http, "portal-2", body="Can I get a copy of my records?")
    urgent = post_item(http, "portal-3", body="I ran out of my insulin yesterday and need a refill today.")
    text = http.get("/my/luis").text
    assert f'id="task-{refill}"' in text and "refill please" in text
    assert f'id="task-{records}"' not in text  # records go to yusuf
    if f'id="task-{urgent}"' in text:  # insulin running out is urgent: it comes first
        assert text.index(f'id="task-{urgent}"') < text.index(f'id="task-{refill}"')


def test_a_claim_that_does_not_apply_comes_back_as_a_sentence_in_the_row(http: httpx.Client) -> None:
    task_id = post_item(http, "portal-1")
    url = f"/ui/my/luis/tasks/{task_id}"
    r = http.post(f"{url}/claim", headers=HTMX)
    assert r.status_code == 200 and "s-claimed" in r.text and f'id="task-{task_id}"' in r.text
    r = http.post(f"{url}/claim", headers=HTMX)
    assert r.status_code == 409
    assert '<p class="error" role="alert">The task is already claimed by you.</p>' in r.text
    assert r.text.lstrip().startswith("<tr")  # a row, to swap in place of the old one


def test_a_reroute_without_a_reason_is_refused_without_echoing_the_text(http: httpx.Client) -> None:
    task_id = post_item(http, "portal-1")
    url = f"/ui/my/luis/tasks/{task_id}/reroute"
    r = http.post(url, data={"to_queue": "records", "reason": SECRET}, headers=HTMX)
    assert r.status_code == 422 and "Choose why the task is moving" in r.text and SECRET not in r.text
    r = http.post(url, data={"reason_code": "wrong_type"}, headers=HTMX)
    assert r.status_code == 422 and "Choose the queue" in r.text
    r = http.post(url, data={"to_queue": "nowhere", "reason_code": "wrong_type"}, headers=HTMX)
    assert r.status_code == 422 and "Unknown queue" in r.text
    r = http.post(
        url, data={"to_queue": "records", "reason_code": "wrong_type", "reason": "a records request"}, headers=HTMX
    )
    assert r.status_code == 200
    assert "no longer yours" in r.text or "now with" in r.text


def test_hold_release_resolve_and_reopen_from_my_work(http: httpx.Client) -> None:
    task_id = post_item(http, "portal-1")
    url = f"/ui/my/luis/tasks/{task_id}"
    assert http.post(f"{url}/hold", data={"reason": ""}, headers=HTMX).status_code == 422
    assert "on hold" in http.post(f"{url}/hold", data={"reason": "the pharmacy"}, headers=HTMX).text
    assert http.post(f"{url}/hold", data={"reason": "again"}, headers=HTMX).status_code == 409
    assert "Release hold" not in http.post(f"{url}/release", headers=HTMX).text
    http.post(f"{url}/claim", headers=HTMX)
    r = http.post(f"{url}/resolve", headers=HTMX)
    assert "s-resolved" in r.text and "Reopen" in r.text
    assert f'id="task-{task_id}"' in http.get("/ui/my/luis/list").text  # listed under "resolved by you lately"
    r = http.post(f"{url}/reopen", headers=HTMX)
    assert r.status_code == 200 and "s-resolved" not in r.text
    r = http.post(f"{url}/reopen", headers=HTMX)
    assert r.status_code == 409 and "Only a resolved task can be reopened" in r.text


def test_next_task_pulls_or_says_there_is_nothing(http: httpx.Client, dispatcher: Dispatcher) -> None:
    r = http.post("/ui/my/luis/next", headers=HTMX)
    assert r.status_code == 200 and "Nothing is waiting that you can take." in r.text
    dispatcher.set_presence("luis", "busy")  # nothing is pushed to him: the refill waits in its queue
    task_id = post_item(http, "portal-1")
    r = http.post("/ui/my/luis/next", headers=HTMX)
    assert r.status_code == 200 and f"You claimed task {task_id}." in r.text
    assert f'id="task-{task_id}"' in r.text and "s-claimed" in r.text


def test_a_form_post_without_htmx_redirects_back_to_the_page(http: httpx.Client) -> None:
    task_id = post_item(http, "portal-1")
    r = http.post(f"/ui/my/luis/tasks/{task_id}/claim")
    assert r.status_code == 303 and r.headers["location"] == "/my/luis"


def test_demo_sign_in_sets_who_acts_and_sign_out_clears_it(http: httpx.Client) -> None:
    page = http.get("/signin").text
    assert "Demo sign-in — no password" in page and 'name="staff" value="luis"' in page
    assert "Signed in as" not in page and 'href="/signin"' in http.get("/").text
    assert "set-cookie" not in http.get("/my/luis").headers  # opening a list signs nobody in
    r = http.post("/signin", data={"staff": "luis"})
    assert r.status_code == 303 and r.headers["location"] == "/my/luis"
    cookie = r.headers["set-cookie"].lower()
    assert cookie.startswith("careroute_demo_staff=luis;") and "httponly" in cookie and "samesite=strict" in cookie
    for url in ("/", "/my/luis", "/board", "/rules", "/scoreboard"):
        text = http.get(url).text
        assert 'Signed in as <strong id="signed-in-as">Luis Serrano</strong>' in text, url
        assert 'action="/signout"' in text and "Demo sign-in — no password" in text, url
    assert "and looking at Yusuf Reed's work" in http.get("/my/yusuf").text
    r = http.post("/signout")
    assert r.status_code == 303 and r.headers["location"] == "/signin"
    assert "Signed in as" not in http.get("/board").text


def test_demo_sign_in_refuses_unknown_people_forged_cookies_and_other_sites(http: httpx.Client) -> None:
    r = http.post("/signin", data={"staff": SECRET})
    assert r.status_code == 422 and "Choose a person from the list." in r.text and SECRET not in r.text
    assert "set-cookie" not in r.headers
    r = http.post("/signin", data={"staff": "luis"}, headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403 and "set-cookie" not in r.headers
    r = http.post("/signin", data={"staff": "luis"}, headers={"Origin": "https://evil.example"})
    assert r.status_code == 403 and "set-cookie" not in r.headers
    http.post("/signin", data={"staff": "luis"})
    assert http.post("/signout", headers={"Origin": "https://evil.example"}).status_code == 403
    assert "Signed in as" in http.get("/").text  # still signed in: the cross-site sign-out did nothing
    http.cookies.set("careroute_demo_staff", "<b>mallory</b>")
    board = http.get("/board").text
    assert "Signed in as" not in board and "mallory" not in board  # a cookie naming nobody is nobody


def test_a_post_from_another_site_is_refused(http: httpx.Client) -> None:
    task_id = post_item(http, "portal-1")
    r = http.post(f"/ui/my/luis/tasks/{task_id}/claim", headers={**HTMX, "Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    r = http.post(f"/ui/my/luis/tasks/{task_id}/claim", headers={**HTMX, "Origin": "https://evil.example"})
    assert r.status_code == 403
    assert http.get(f"/v1/tasks/{task_id}").json()["status"] == "assigned"


def test_the_board_refuses_an_assignment_in_a_sentence(http: httpx.Client) -> None:
    task_id = post_item(http, "portal-1")  # a refill, with luis
    url = f"/ui/board/tasks/{task_id}/assign"
    r = http.post(url, data={"staff": "rhea", "actor": "pam"}, headers=HTMX)
    assert r.status_code == 409 and "rhea (RN) may not take medication_refill tasks in queue refills" in r.text
    r = http.post(url, data={"staff": "luis", "actor": "pam"}, headers=HTMX)
    assert r.status_code == 409 and "already with luis" in r.text
    r = http.post(url, data={"staff": "luis"}, headers=HTMX)
    assert r.status_code == 422 and "Say who you are" in r.text
    r = http.post("/ui/board/tasks/999/assign", data={"staff": "luis", "actor": "pam"}, headers=HTMX)
    assert r.status_code == 404 and "No task 999" in r.text


def test_the_board_shows_breaches_and_reassigns(http: httpx.Client, dispatcher: Dispatcher) -> None:
    task_id = post_item(http, "portal-1")
    http.post("/ui/staff/luis/presence", data={"presence": "away"}, headers=HTMX)  # luis's task goes back
    assert isinstance(dispatcher.clock, SimulatedClock)
    dispatcher.clock.now += timedelta(hours=5)  # past the 4-business-hour claim target
    board = http.get("/board").text
    assert 'id="queue-refills" data-queue="refills" class="breach"' in board and "1 breached" in board
    r = http.post("/ui/staff/luis/presence", data={"presence": "available"}, headers=HTMX)
    assert r.status_code == 200 and 'id="board-people"' in r.text
    r = http.post("/ui/staff/luis/presence", data={"presence": "asleep"}, headers=HTMX)
    assert r.status_code == 422 and "Must be one of available, busy, away, off_shift" in r.text
    r = http.post(f"/ui/board/tasks/{task_id}/assign", data={"staff": "luis", "actor": "pam"}, headers=HTMX)
    assert r.status_code in (200, 409)  # available again, luis may already have been pushed the task
    assert http.get(f"/v1/tasks/{task_id}").json()["assignee"] == "luis"


def test_the_task_page_shows_the_item_its_evidence_and_timeline(http: httpx.Client) -> None:
    task_id = post_item(http, "portal-1", body=CHEST, subject="<script>alert(1)</script>")
    text = http.get(f"/tasks/{task_id}").text
    assert "<script>alert(1)</script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert '<mark class="ev" title="danger.chest_pain">chest pain' in text
    assert '<mark class="ev negated" title="danger.breathing (negated: not counted)">shortness of breath' in text
    for kind in ("created", "classified", "routed"):
        assert f'<span class="kind">{kind}</span>' in text
    assert "claim target" in text and "Clinical triage" in text


def test_unmerge_asks_a_reason_and_splits_the_item(http: httpx.Client) -> None:
    body = "Please send a refill of my atorvastatin 40 mg to the pharmacy."
    first = post_item(http, "portal-1", body=body)
    second = http.post(
        "/v1/items", json=make_item("portal-2", body=body, patient=make_item("portal-1").patient).to_dict()
    )
    assert second.json()["task_id"] == first  # merged
    item_id = http.get(f"/v1/tasks/{first}").json()["items"][1]["id"]
    page = http.get(f"/tasks/{first}").text
    assert f'id="item-{item_id}"' in page and "Unmerge item" in page
    url = f"/ui/items/{item_id}/unmerge"
    r = http.post(url, data={"task_id": str(first), "actor": "luis", "reason": ""}, headers=HTMX)
    assert r.status_code == 422 and "Say why the merge was wrong" in r.text
    r = http.post(
        url, data={"task_id": str(first), "actor": "luis", "reason": "two different prescriptions"}, headers=HTMX
    )
    assert r.status_code == 200 and "was unmerged" in r.text
    assert http.get(f"/v1/tasks/{first}").json()["item_count"] == 1


def test_phi_stays_on_the_pages_that_need_it(http: httpx.Client) -> None:
    task_id = post_item(http, "portal-1", subject="refill please", body=f"From {SECRET}: please renew my atorvastatin.")
    assert SECRET in http.get(f"/tasks/{task_id}").text
    mine = http.get("/my/luis").text
    assert "refill please" in mine and SECRET not in mine  # a subject preview, never the body
    for url in ("/board", "/rules", "/scoreboard", "/scoreboard.csv", "/", "/signin"):
        text = http.get(url).text
        assert SECRET not in text and "Alice Test" not in text, url


def test_the_scoreboard_csv_downloads_weekly_rows(http: httpx.Client) -> None:
    task_id = post_item(http, "portal-1")
    http.post(f"/ui/my/luis/tasks/{task_id}/claim", headers=HTMX)
    r = http.get("/scoreboard.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert 'filename="careroute-scoreboard.csv"' in r.headers["content-disposition"]
    lines = r.text.splitlines()
    assert lines[0].startswith("period,dimension,value,tasks")
    assert any(line.startswith("2026-10-05,all,all,1,") for line in lines)


def test_the_rules_page_shows_the_pack_its_versions_and_misfires(http: httpx.Client) -> None:
    task_id = post_item(http, "portal-1")
    body = {"to_queue": "records", "reason_code": "wrong_type"}
    assert http.post(f"/ui/my/luis/tasks/{task_id}/reroute", data=body, headers=HTMX).status_code == 200
    text = http.get("/rules").text
    assert "Routing rules" in text and "go to Clinical triage" in text
    assert "<strong>active</strong>" in text
    assert "<code>tag.medication_refill</code>" in text and "Refills → Records (1)" in text


def test_the_scoreboard_and_misfires_follow_changes_made_after_their_first_read(
    http: httpx.Client, dispatcher: Dispatcher
) -> None:
    """The recent tasks' summary rows are read once, then kept up to date from the log: never stale, never off."""
    first = post_item(http, "portal-1")
    assert "Refills → Records" not in http.get("/rules").text  # loads the window
    assert http.get("/scoreboard").status_code == 200
    second = post_item(http, "portal-2", body=CHEST)
    http.post(f"/ui/my/luis/tasks/{first}/claim", headers=HTMX)
    body = {"to_queue": "records", "reason_code": "wrong_type"}
    assert http.post(f"/ui/my/luis/tasks/{first}/reroute", data=body, headers=HTMX).status_code == 200
    assert "Refills → Records (1)" in http.get("/rules").text
    since = dispatcher.clock() - timedelta(weeks=data.HISTORY_WEEKS)
    held = data.recent_facts(dispatcher, since)
    with dispatcher.store.read() as conn:
        fresh = dispatcher.store.facts_created_between(conn, since, dispatcher.clock() + timedelta(seconds=1))
    assert held == sorted(fresh, key=lambda f: f.task_id)
    assert [f.task_id for f in held] == [first, second] and held[0].reroutes == 1
    lines = http.get("/scoreboard.csv").text.splitlines()
    assert any(line.startswith("2026-10-05,all,all,2,") for line in lines)


def test_the_live_stream_sends_new_events_and_ends_when_the_client_leaves(
    web_app: FastAPI, web_server: LiveServer, http: httpx.Client
) -> None:
    streams = web_app.state.web_streams
    with httpx.Client(base_url=web_server.url, timeout=10) as client, client.stream("GET", "/events/stream") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        task_id = post_item(http, "portal-1", body=f"{SECRET} needs a refill of atorvastatin.")
        seen: list[dict[str, object]] = []
        lines = stream.iter_lines()
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline and not any(e["kind"] == "assigned" for e in seen):
            line = next(lines)
            assert SECRET not in line
            if line.startswith("data: "):
                seen.append(json.loads(line[6:]))
        assert [e["kind"] for e in seen] == ["created", "classified", "routed", "assigned"]
        assert seen[-1] == {**seen[-1], "task_id": task_id, "assignee": "luis", "queue": "refills"}
        assert streams.active == 1
    deadline = time.monotonic() + 5
    while streams.active and time.monotonic() < deadline:
        time.sleep(0.1)
    assert streams.active == 0


def test_the_live_stream_resumes_after_the_last_event_id(http: httpx.Client) -> None:
    post_item(http, "portal-1")
    with http.stream("GET", "/events/stream", headers={"Last-Event-ID": "2"}) as stream:
        ids = []
        for line in stream.iter_lines():
            if line.startswith("id: "):
                ids.append(int(line[4:]))
            if len(ids) == 2:
                break
    assert ids == [3, 4]


def test_raw_html_in_a_rule_pack_is_shown_as_text() -> None:
    text = STARTER_PACK.read_text().replace(
        "Queues, routing and demo staff", "<script>alert(1)</script> Queues, routing and demo staff", 1
    )
    html = pack_html(load_pack_text(text, "test.yaml"))
    assert "<script>" not in html and "&lt;script&gt;" in html
