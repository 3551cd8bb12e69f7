"""The careroute command, run as a user runs it."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import SAMPLES, SHARED, make_item

needs_samples = pytest.mark.skipif(not SAMPLES.is_dir(), reason="../shared/samples is not beside this checkout")


def careroute(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "careroute.cli", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


@needs_samples
def test_replay_prints_a_valid_decision_for_every_sample_line(tmp_path: Path) -> None:
    run = careroute("replay", str(SAMPLES / "sample_queue.jsonl"))
    assert run.returncode == 0, run.stderr
    out = tmp_path / "decisions.jsonl"
    out.write_text(run.stdout)
    check = subprocess.run(
        [
            sys.executable,
            str(SHARED / "eval" / "check_decisions.py"),
            str(SAMPLES / "sample_queue.jsonl"),
            str(out),
        ],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout
    assert "replayed 160 items" in run.stderr


@needs_samples
def test_eval_prints_the_same_figures_as_the_shared_scorer(tmp_path: Path) -> None:
    decisions = tmp_path / "decisions.jsonl"
    decisions.write_text(careroute("replay", str(SAMPLES / "sample_queue.jsonl")).stdout)
    labels = str(SAMPLES / "sample_labels.jsonl")
    ours = careroute("eval", str(decisions), labels, "--brief")
    theirs = subprocess.run(
        [sys.executable, str(SHARED / "eval" / "score.py"), str(decisions), labels],
        capture_output=True,
        text=True,
    )
    assert ours.returncode == 0 and ours.stdout == theirs.stdout
    full = careroute("eval", str(decisions), labels)
    assert "confusion matrix (type):" in full.stdout and "misses (" in full.stdout


def test_a_malformed_line_is_reported_by_number_and_the_rest_still_run(tmp_path: Path) -> None:
    good = [make_item(f"portal-{i}").to_dict() for i in range(3)]
    lines = [
        json.dumps(good[0]),
        '{"channel": "portal", oops',
        json.dumps({**good[1], "channel": "pigeon"}),
        json.dumps(good[2]),
    ]
    path = tmp_path / "items.jsonl"
    path.write_text("\n".join(lines) + "\n")
    run = careroute("replay", str(path))
    assert run.returncode == 0
    assert [json.loads(x)["external_id"] for x in run.stdout.splitlines()] == ["portal-0", "portal-2"]
    assert "line 2: not valid JSON" in run.stderr and "line 3: channel:" in run.stderr


def test_replay_into_a_database_file_keeps_the_tasks(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text(json.dumps(make_item().to_dict()) + "\n")
    db = tmp_path / "replay.db"
    assert careroute("replay", str(path), "--db", str(db)).returncode == 0
    again = careroute("replay", str(path), "--db", str(db))
    assert "repeats ignored 1" in again.stderr


def test_rules_check_accepts_the_starter_pack_and_names_problems_in_a_bad_one(tmp_path: Path) -> None:
    from careroute.config import STARTER_PACK

    ok = careroute("rules", "check", str(STARTER_PACK))
    assert ok.returncode == 0 and "valid rule pack" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(STARTER_PACK.read_text().replace("{queue: billing,", "{queue: billng,"))
    run = careroute("rules", "check", str(bad))
    assert run.returncode == 2 and "bad.yaml, line" in run.stderr and "Traceback" not in run.stderr


def test_missing_files_are_clear_errors(tmp_path: Path) -> None:
    run = careroute("replay", str(tmp_path / "nope.jsonl"))
    assert run.returncode == 2 and "no such file" in run.stderr


def test_rules_explain_renders_the_pack_in_plain_english_and_html() -> None:
    md = careroute("rules", "explain")
    assert md.returncode == 0, md.stderr
    assert "Prior authorisation updates go to Authorizations, weighing 3 units" in md.stdout
    assert "If a prior authorisation update is not claimed within 2 business hours" in md.stdout
    assert "closed on US federal holidays (observed)" in md.stdout
    html = careroute("rules", "explain", "--html")
    assert html.stdout.startswith("<!doctype html>") and "<h2>Routing rules</h2>" in html.stdout


def test_rules_diff_says_what_a_change_would_do(tmp_path: Path) -> None:
    from careroute.config import STARTER_PACK

    new = tmp_path / "new.yaml"
    new.write_text(
        STARTER_PACK.read_text()
        .replace("after: 2 business hours", "after: 1 business hours")
        .replace("    capacity: 12\n", "    capacity: 10\n", 1)
    )
    run = careroute("rules", "diff", str(STARTER_PACK), str(new))
    assert run.returncode == 0, run.stderr
    assert "Luis Serrano's capacity changes from 12 to 10." in run.stdout
    assert "2 business hours" in run.stdout and "1 business hour" in run.stdout
    same = careroute("rules", "diff", str(STARTER_PACK), str(STARTER_PACK))
    assert "No differences" in same.stdout


def test_learn_trains_a_model_that_a_pack_can_name(tmp_path: Path) -> None:
    from careroute.config import STARTER_PACK

    cases = Path(__file__).resolve().parents[1] / "unit" / "cases" / "classify_cases.jsonl"
    model = tmp_path / "learned.json"
    run = careroute("learn", str(cases), "--out", str(model))
    assert run.returncode == 0, run.stderr
    assert model.is_file() and "classifier: {model:" in run.stderr
    pack = tmp_path / "pack.yaml"
    pack.write_text(STARTER_PACK.read_text().replace("classifier: {}", "classifier: {model: learned.json}"))
    assert careroute("rules", "check", str(pack)).returncode == 0
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps(make_item().to_dict()) + "\n")
    replayed = careroute("replay", str(items), "--rules", str(pack))
    assert replayed.returncode == 0 and json.loads(replayed.stdout)["type"] == "medication_refill"
    missing = careroute("learn", "--out", str(model))
    assert missing.returncode == 2 and "labelled JSON Lines" in missing.stderr


def test_users_and_tokens_from_the_command_line(db_url: str) -> None:
    """An administrator adds a user and a token; the token works until it is revoked; errors are one line."""
    from careroute.store import accounts
    from careroute.store.repository import Store

    db = ["--db", db_url]
    run = careroute("users", "add", "pam", "--role", "supervisor", "--staff", "pam", "--password-stdin", *db,
                    stdin="a long enough password\n")  # fmt: skip
    assert run.returncode == 0, run.stderr
    again = careroute("users", "add", "pam", "--password-stdin", *db, stdin="a long enough password\n")
    assert again.returncode == 2 and again.stderr.strip() == "careroute: user: pam already exists"
    short = careroute("users", "add", "kim", "--password-stdin", *db, stdin="short\n")
    assert short.returncode == 2 and "at least 10 characters" in short.stderr and "short" not in short.stdout
    assert "pam" in careroute("users", "list", *db).stdout
    made = careroute("tokens", "create", "EHR interface", "--scopes", "intake,read", *db)
    assert made.returncode == 0 and "shown once" in made.stderr
    secret = made.stdout.strip()
    store = Store.from_url(db_url)
    try:
        who = accounts.token_principal(store, secret)
        assert who is not None and who.scopes == {"intake", "read"}
        token_id = secret.split("_")[1]
        listed = careroute("tokens", "list", *db).stdout
        assert token_id in listed and secret not in listed
        assert careroute("tokens", "revoke", token_id, *db).returncode == 0
        assert accounts.token_principal(store, secret) is None
        bad = careroute("tokens", "create", "x", "--scopes", "everything", *db)
        assert bad.returncode == 2 and "scopes:" in bad.stderr
        assert careroute("users", "disable", "pam", *db).returncode == 0
        user = accounts.get_user(store, "pam")
        assert user is not None and not user.active
    finally:
        store.engine.dispose()
