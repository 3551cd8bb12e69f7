"""What `careroute serve --workers N` runs in each worker process: the same app, built from the same arguments.

uvicorn starts each worker as a fresh interpreter that imports `FACTORY`; the
parent leaves the command's arguments in the environment for it. Each worker has
its own engine, scheduler (which takes part in the election of the one leader)
and live-update feed, exactly as a separate instance would.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
from typing import Any

ARGS_VARIABLE = "CAREROUTE_SERVE_ARGS"
FACTORY = "careroute.serving:worker_app"


def dump_args(args: argparse.Namespace) -> str:
    """The command's arguments as JSON (plain values only: the handler function stays behind)."""
    plain = (str, int, float, bool, type(None))
    return json.dumps({k: v for k, v in vars(args).items() if isinstance(v, plain)})


def freeze_startup_objects() -> None:
    """The pack, the lexicons and the calendar live as long as the process: move them out of the
    collector's way, so a full collection does not pause a request for hundreds of milliseconds."""
    gc.collect()
    gc.freeze()


def worker_app() -> Any:
    from careroute.cli import build_serve_app

    args = argparse.Namespace(**json.loads(os.environ[ARGS_VARIABLE]))
    app = build_serve_app(args)
    freeze_startup_objects()
    return app
