"""Durability under SIGKILL: 20,000 items posted while `careroute serve` is killed and restarted.

    python benchmarks/crash.py [--items 20000] [--kills 5] [--clients 6] [--seed N] [--skip-postgres]

On a fresh SQLite file and a fresh PostgreSQL schema, client threads post every item once to
`POST /v1/items` while the server process is killed with SIGKILL at random moments and started
again on the same database. Then every item without a 2xx is sent again, and the store is read
directly. It prints, per database: items sent, acknowledged (2xx during the run), found in the
store, duplicates, missing, kills. The experiment itself is tests/integration/test_crash.py's
(`CAREROUTE_CRASH_ITEMS=20000 pytest tests/integration/test_crash.py` runs the same thing as a test).
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import PG_URL, machine, postgres_answers
from tests.integration.test_crash import CLIENTS, run_crash_test

from careroute.store.repository import Store


def migrate(url: str) -> None:
    store = Store.from_url(url)
    store.migrate()
    store.engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=20_000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    parser.add_argument("--seed", type=int, default=None, help="the kill moments and item order; random by default")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)

    print(f"machine: {machine()}")
    print(f"{args.items:,} items, {args.kills} SIGKILLs, {args.clients} client threads, seed {seed}")
    failed = False
    tmp = Path(tempfile.mkdtemp(prefix="careroute-crash-"))
    try:
        url = f"sqlite:///{tmp / 'crash.db'}"
        migrate(url)
        report = run_crash_test(url, n_items=args.items, kills=args.kills, clients=args.clients, seed=seed)
        print("\n" + "\n".join(report.lines()))
        failed |= not report.ok
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    if not args.skip_postgres and postgres_answers():
        schema = f"bench_crash_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        try:
            url = f"{PG_URL}?options=-csearch_path%3D{schema}"
            migrate(url)
            report = run_crash_test(url, n_items=args.items, kills=args.kills, clients=args.clients, seed=seed)
            print("\n" + "\n".join(report.lines()))
            failed |= not report.ok
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()
    print("\nresult: " + ("FAILED: an acknowledged item was lost or stored twice" if failed else "every item once"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
