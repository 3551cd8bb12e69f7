"""What `careroute serve --workers N` runs in each worker process: the same app, built from the same arguments.

uvicorn starts each worker as a fresh interpreter that imports `FACTORY`; the
parent leaves the command's arguments in the environment for it. Each worker has
its own engine, scheduler (which takes part in the election of the one leader)
and live-update feed, exactly as a separate instance would.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import sys
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
    limit_malloc_arenas()


#: glibc gives each thread that allocates its own malloc arena (up to 8 per core), and memory freed in one
#: arena is not reused by another: a server whose requests run on a pool of 40 threads grows by tens of
#: megabytes an hour. Two arenas is what Python application servers commonly set (MALLOC_ARENA_MAX=2).
MALLOC_ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h


def limit_malloc_arenas() -> bool:
    """Cap glibc's malloc arenas for this process (unless MALLOC_ARENA_MAX already says); False elsewhere."""
    if os.environ.get("MALLOC_ARENA_MAX") or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_M_ARENA_MAX, MALLOC_ARENAS))
    except (OSError, AttributeError):  # not glibc (musl, for one): nothing to cap
        return False


def worker_app() -> Any:
    from careroute.cli import build_serve_app

    args = argparse.Namespace(**json.loads(os.environ[ARGS_VARIABLE]))
    app = build_serve_app(args)
    freeze_startup_objects()
    return app
