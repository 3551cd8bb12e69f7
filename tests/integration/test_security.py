"""Sign-in, roles, tokens, CSRF, lockout, break-the-glass and rate limits, over real HTTP on both databases.

The app here runs as `careroute serve` does without --demo: every call needs a
session or an API token.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from careroute.api import create_app
from careroute.api.security import Security
from careroute.credentials import LOCKOUT, MAX_FAILED_SIGNINS
from careroute.dispatcher import Dispatcher, SimulatedClock
from careroute.ratelimit import Limit
from careroute.store import accounts
from careroute.store.tables import access_log, api_tokens, sessions, users
from tests.conftest import ROOT, LiveServer, make_item

PASSWORD = "correct horse battery"
#: Generous limits, so only the rate-limit test meets them.
SECURITY = Security(signin_limit=Limit(rate=50, burst=100))


@pytest.fixture
def server(dispatcher: Dispatcher) -> Iterator[LiveServer]:
    store, now = dispatcher.store, dispatcher.clock()
    accounts.add_user(store, "luis", PASSWORD, now, name="Luis Serrano", role="staff", staff_id="luis")
    accounts.add_user(store, "zara", PASSWORD, now, name="Zara Khan", role="staff", staff_id="zara")
    accounts.add_user(store, "rhea", PASSWORD, now, role="staff", staff_id="rhea", clinical=True)
    accounts.add_user(store, "sam", PASSWORD, now, role="supervisor", queues=["billing", "scheduling"])
    accounts.add_user(store, "ada", PASSWORD, now, role="admin")
    accounts.add_user(store, "aud", PASSWORD, now, role="auditor")
    with LiveServer(create_app(dispatcher, security=SECURITY)) as live:
        yield live


def client(server: LiveServer) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=10)


def signed_in(server: LiveServer, user: str) -> tuple[httpx.Client, str]:
    """A browser-like client signed in as `user`, and its page's CSRF token."""
    c = client(server)
    r = c.post("/signin", data={"user": user, "password": PASSWORD})
    assert r.status_code == 303, r.text
    page = c.get("/rules").text
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "the page carries a CSRF token"
    return c, match.group(1)


def token(dispatcher: Dispatcher, *scopes: str) -> dict[str, str]:
    _made, secret = accounts.create_token(dispatcher.store, "test system", list(scopes), "test", dispatcher.clock())
    return {"authorization": f"Bearer {secret}"}


def intake(server: LiveServer, headers: dict[str, str], external_id: str, body: str) -> httpx.Response:
    with client(server) as c:
        return c.post("/v1/items", json=make_item(external_id, body=body).to_dict(), headers=headers)


BILLING = "I was charged twice on my statement for the visit last month, please fix the bill."
REFILL = "Please send a refill of my atorvastatin 40 mg to the pharmacy."


def test_nothing_is_open_without_credentials(server: LiveServer) -> None:
    with client(server) as c:
        for method, path in [("GET", "/v1/tasks"), ("POST", "/v1/items"), ("GET", "/metrics"), ("GET", "/v1/queues")]:
            r = c.request(method, path, json={})
            assert r.status_code == 401, (path, r.status_code)
            assert r.headers["www-authenticate"].startswith("Bearer")
        r = c.get("/board")
        assert r.status_code == 303 and r.headers["location"] == "/signin?next=%2Fboard"
        assert c.get("/healthz").status_code == 200
        assert c.get("/signin").status_code == 200


def test_token_scopes_and_revocation(server: LiveServer, dispatcher: Dispatcher) -> None:
    intake_only = token(dispatcher, "intake")
    reader = token(dispatcher, "read")
    r = intake(server, intake_only, "portal-1", REFILL)
    assert r.status_code == 201
    task_id = r.json()["task_id"]
    with client(server) as c:
        assert c.get("/v1/tasks", headers=intake_only).status_code == 403
        assert c.get(f"/v1/tasks/{task_id}", headers=reader).status_code == 200
        assert c.post(f"/v1/tasks/{task_id}/claim", json={"actor": "luis"}, headers=reader).status_code == 403
        assert intake(server, reader, "portal-2", REFILL).status_code == 403
        # Wrong, malformed and revoked tokens are all 401, without saying which.
        for bad in ("crt_000000000000_nope", "not-a-token", "Basic abc"):
            assert c.get("/v1/tasks", headers={"authorization": f"Bearer {bad}"}).status_code == 401
        token_id = reader["authorization"].split("_")[1]
        accounts.revoke_token(dispatcher.store, token_id, dispatcher.clock())
        assert c.get("/v1/tasks", headers=reader).status_code == 401
    with dispatcher.store.read() as conn:
        stored = list(conn.execute(select(api_tokens.c.secret_hash)))
    secrets_given = {intake_only["authorization"], reader["authorization"]}
    assert all(row.secret_hash not in " ".join(secrets_given) for row in stored)  # only digests are kept


def test_a_staff_member_cannot_read_another_queues_task(server: LiveServer, dispatcher: Dispatcher) -> None:
    feed = token(dispatcher, "intake")
    billing = intake(server, feed, "portal-b", BILLING).json()
    refill = intake(server, feed, "portal-r", REFILL).json()
    assert billing["decision"]["queue"] == "billing" and refill["decision"]["queue"] == "refills"
    luis, _ = signed_in(server, "luis")  # refills and results
    assert luis.get(f"/v1/tasks/{refill['task_id']}").status_code == 200
    r = luis.get(f"/v1/tasks/{billing['task_id']}")
    assert r.status_code == 404 and r.json()["message"] == f"no task {billing['task_id']}"
    listed = {t["id"] for t in luis.get("/v1/tasks").json()["tasks"]}
    assert listed == {refill["task_id"]}
    assert luis.get(f"/tasks/{billing['task_id']}").status_code == 404  # the page too
    r = luis.post(f"/v1/tasks/{billing['task_id']}/claim", json={"actor": "luis"})
    assert r.status_code == 404
    # Nor does a person act under someone else's name.
    r = luis.post(f"/v1/tasks/{refill['task_id']}/claim", json={"actor": "zara"})
    assert r.status_code == 403 and "signed in as luis" in r.json()["message"]
    assert luis.get("/my/zara").status_code == 403
    sam, _ = signed_in(server, "sam")  # a supervisor of billing and scheduling
    assert sam.get(f"/v1/tasks/{billing['task_id']}").status_code == 200
    assert sam.get(f"/v1/tasks/{refill['task_id']}").status_code == 404
    ada, _ = signed_in(server, "ada")
    assert {t["id"] for t in ada.get("/v1/tasks").json()["tasks"]} == {billing["task_id"], refill["task_id"]}


def test_break_the_glass_is_for_clinicians_with_a_reason_and_is_reported(
    server: LiveServer, dispatcher: Dispatcher
) -> None:
    billing = intake(server, token(dispatcher, "intake"), "portal-b", BILLING).json()["task_id"]
    rhea, csrf = signed_in(server, "rhea")  # a nurse: clinical_triage and nurse queues
    assert rhea.get(f"/v1/tasks/{billing}").status_code == 404
    page = rhea.get(f"/tasks/{billing}")
    assert page.status_code == 404 and "Break the glass" in page.text
    refused = rhea.post(f"/tasks/{billing}/break-glass", data={"csrf": csrf, "reason": "curious"})
    assert refused.status_code == 422
    opened = rhea.post(
        f"/tasks/{billing}/break-glass", data={"csrf": csrf, "reason": "patient called the nurse line about it"}
    )
    assert opened.status_code == 200 and "Task" in opened.text
    r = rhea.get(f"/v1/tasks/{billing}", params={"break_glass": "calling the patient back about this now"})
    assert r.status_code == 200
    luis, csrf = signed_in(server, "luis")  # not clinical: no glass to break
    assert "Break the glass" not in luis.get(f"/tasks/{billing}").text
    r = luis.get(f"/v1/tasks/{billing}", params={"break_glass": "I would like to see it please"})
    assert r.status_code == 404
    aud, _ = signed_in(server, "aud")
    report = aud.get("/v1/audit/access", params={"break_glass": "true"}).json()["reads"]
    assert [(x["actor"], x["task_id"]) for x in report] == [("rhea", billing), ("rhea", billing)]
    assert report[0]["reason"] == "patient called the nurse line about it"
    reads = aud.get("/v1/audit/access", params={"task_id": billing}).json()["reads"]
    assert [x["actor"] for x in reads] == ["rhea", "rhea"]
    # An auditor reads the audit, not the patients' messages.
    assert aud.get(f"/v1/tasks/{billing}").status_code == 404
    assert luis.get("/v1/audit/access", params={"task_id": billing}).status_code == 403


def test_csrf_token_is_required_on_every_form_of_a_session(server: LiveServer, dispatcher: Dispatcher) -> None:
    task_id = intake(server, token(dispatcher, "intake"), "portal-r", REFILL).json()["task_id"]
    luis, csrf = signed_in(server, "luis")
    r = luis.post(f"/ui/my/luis/tasks/{task_id}/claim", data={}, headers={"HX-Request": "true"})
    assert r.status_code == 403
    r = luis.post(f"/ui/my/luis/tasks/{task_id}/claim", data={"csrf": "forged"}, headers={"HX-Request": "true"})
    assert r.status_code == 403
    assert luis.get(f"/v1/tasks/{task_id}").json()["status"] != "claimed"
    r = luis.post(f"/ui/my/luis/tasks/{task_id}/claim", data={"csrf": csrf}, headers={"HX-Request": "true"})
    assert r.status_code == 200
    r = luis.post(f"/ui/my/luis/tasks/{task_id}/resolve", headers={"HX-Request": "true", "X-CSRF-Token": csrf})
    assert r.status_code == 200
    assert luis.get(f"/v1/tasks/{task_id}").json()["status"] == "resolved"
    # Sign-out is a form too: without the token the session lives on.
    assert luis.post("/signout", data={}).status_code == 403
    assert luis.get("/v1/tasks").status_code == 200
    assert luis.post("/signout", data={"csrf": csrf}).status_code == 303
    assert luis.get("/v1/tasks").status_code == 401


def test_sign_in_cookie_lockout_and_disabled_accounts(server: LiveServer, dispatcher: Dispatcher) -> None:
    clock = dispatcher.clock
    assert isinstance(clock, SimulatedClock)
    with client(server) as c:
        r = c.post("/signin", data={"user": "luis", "password": PASSWORD})
        cookie = r.headers["set-cookie"].lower()
        assert cookie.startswith("careroute_session=") and "httponly" in cookie and "samesite=strict" in cookie
        assert "secure" not in cookie  # plain http on loopback; `secure_cookies` adds it
    with client(server) as c:
        unknown = c.post("/signin", data={"user": "nobody", "password": PASSWORD})
        wrong = c.post("/signin", data={"user": "zara", "password": "not the password"})
        assert unknown.status_code == wrong.status_code == 401
        assert "do not match" in unknown.text and "do not match" in wrong.text  # the same words for both
        for _ in range(MAX_FAILED_SIGNINS - 2):
            assert c.post("/signin", data={"user": "zara", "password": "still wrong"}).status_code == 401
        locked = c.post("/signin", data={"user": "zara", "password": "wrong again"})
        assert locked.status_code == 403 and "locked" in locked.text
        still = c.post("/signin", data={"user": "zara", "password": PASSWORD})
        assert still.status_code == 403 and "set-cookie" not in still.headers  # even the right password
        clock.now += LOCKOUT + timedelta(seconds=1)
        assert c.post("/signin", data={"user": "zara", "password": PASSWORD}).status_code == 303
    luis, _ = signed_in(server, "luis")
    assert luis.get("/v1/tasks").status_code == 200
    accounts.set_active(dispatcher.store, "luis", False, clock())
    assert luis.get("/v1/tasks").status_code == 401  # the open session ended with the account
    r = luis.post("/signin", data={"user": "luis", "password": PASSWORD})
    assert r.status_code == 403 and "disabled" in r.text
    with dispatcher.store.read() as conn:
        row = conn.execute(select(users.c.password_hash).where(users.c.id == "luis")).one()
        assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
        assert all(len(s.id_hash) == 64 for s in conn.execute(select(sessions.c.id_hash)))


def test_a_sign_in_link_never_sends_anyone_elsewhere(server: LiveServer) -> None:
    cases = [("/board", "/board"), ("//evil.example/x", "/my/luis"), ("https://evil.example", "/my/luis")]
    for target, expected in cases:
        with client(server) as c:
            r = c.post("/signin", data={"user": "luis", "password": PASSWORD, "next": target})
            assert r.headers["location"] == expected, target


def test_sign_in_and_intake_are_rate_limited(dispatcher: Dispatcher) -> None:
    tight = replace(SECURITY, signin_limit=Limit(rate=0.01, burst=3), intake_limit=Limit(rate=0.01, burst=5))
    accounts.add_user(dispatcher.store, "luis", PASSWORD, dispatcher.clock(), staff_id="luis")
    with LiveServer(create_app(dispatcher, security=tight)) as live, client(live) as c:
        codes = [c.post("/signin", data={"user": "luis", "password": "wrong"}).status_code for _ in range(5)]
        assert codes[:3] == [401, 401, 401] and codes[3:] == [429, 429]
        feed = token(dispatcher, "intake")
        other = token(dispatcher, "intake")
        codes = [intake(live, feed, f"portal-{i}", REFILL).status_code for i in range(7)]
        assert codes[:5] == [201] * 5 and codes[5:] == [429, 429]
        r = intake(live, feed, "portal-9", REFILL)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert intake(live, other, "portal-10", REFILL).status_code == 201  # limits are per token


def test_every_answer_carries_security_headers(server: LiveServer, dispatcher: Dispatcher) -> None:
    with client(server) as c:
        for r in (c.get("/healthz"), c.get("/v1/tasks"), c.get("/v1/tasks", headers=token(dispatcher, "read"))):
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["cache-control"] == "no-store"
        page = c.get("/signin")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_page_reads_are_in_the_access_log(server: LiveServer, dispatcher: Dispatcher) -> None:
    task_id = intake(server, token(dispatcher, "intake"), "portal-r", REFILL).json()["task_id"]
    luis, _ = signed_in(server, "luis")
    assert luis.get(f"/tasks/{task_id}").status_code == 200
    assert luis.get("/scoreboard.csv").status_code == 200
    with dispatcher.store.read() as conn:
        rows = list(conn.execute(select(access_log.c.actor, access_log.c.action, access_log.c.task_id)))
    assert [tuple(r) for r in rows] == [("luis", "read_task", task_id), ("luis", "export", None)]


def test_integration_doors_need_an_intake_token_without_a_sources_file(
    server: LiveServer, dispatcher: Dispatcher
) -> None:
    message = (ROOT / "tests" / "fixtures" / "intake" / "hl7" / "oru_potassium_hh.hl7").read_bytes()
    with client(server) as c:
        assert c.post("/hl7/v2", content=message).status_code == 401
        assert c.post("/hl7/v2", content=message, headers=token(dispatcher, "read")).status_code == 403
        r = c.post("/hl7/v2", content=message, headers=token(dispatcher, "intake"))
        assert r.status_code == 200 and "MSA|AA|" in r.text
