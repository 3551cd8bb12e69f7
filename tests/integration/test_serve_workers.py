"""`careroute serve --workers N`: what it refuses, and how each worker gets the command's arguments."""

from __future__ import annotations

import argparse
import json

import pytest

from careroute import serving
from careroute.cli import build_parser, main


def test_it_refuses_no_workers(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--workers", "0"]) == 2
    assert "--workers must be 1 or more" in capsys.readouterr().err


def test_it_keeps_the_mllp_listener_to_one_worker(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CAREROUTE_MLLP_PORT", "2575")
    assert main(["serve", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert "MLLP and SMTP listeners need one port each" in err and "Traceback" not in err


def test_each_worker_rebuilds_the_arguments_it_was_started_with() -> None:
    args = build_parser().parse_args(["serve", "--port", "8123", "--workers", "3", "--db", "sqlite:///x.db"])
    again = argparse.Namespace(**json.loads(serving.dump_args(args)))
    assert (again.port, again.workers, again.db, again.host) == (8123, 3, "sqlite:///x.db", "127.0.0.1")
    assert not hasattr(again, "func")  # the handler stays in the parent
