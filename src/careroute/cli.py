"""The `careroute` command: serve, migrate, demo, replay, eval, rules."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from careroute.config import STARTER_PACK, Settings


class CliError(Exception):
    """A problem the user can fix; printed as one clear line, exit status 2."""


#: Seconds an idle HTTP connection is kept open (see cmd_serve).
KEEP_ALIVE_SECONDS = 20


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    overrides: dict[str, Any] = {}
    if getattr(args, "db", None):
        overrides["database_url"] = args.db
    if getattr(args, "rules", None):
        overrides["rules_path"] = Path(args.rules)
    return Settings(**{**settings.__dict__, **overrides})


def _load_pack(path: Path) -> Any:
    from careroute.rules import PackError, load_pack

    try:
        return load_pack(path)
    except PackError as exc:
        raise CliError(str(exc)) from None


def _dispatcher(settings: Settings, *, migrate: bool) -> Any:
    from sqlalchemy.exc import OperationalError

    from careroute.dispatcher import Dispatcher
    from careroute.store.repository import Store

    pack = _load_pack(settings.rules_path)
    store = Store.from_url(settings.database_url)
    try:
        if migrate:
            store.migrate()
        else:
            _require_migrated(store)
    except OperationalError as exc:
        raise CliError(f"cannot open the database: {type(exc.orig).__name__}") from None
    dispatcher = Dispatcher(store, pack, base_url=settings.base_url)
    dispatcher.load_pack()
    return dispatcher


def _require_migrated(store: Any) -> None:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from careroute.store.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(store.engine)).get_current_head()
    with store.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current != head:
        raise CliError(f"the database is at schema {current or 'empty'}, not {head}: run `careroute migrate` first")


def cmd_migrate(args: argparse.Namespace) -> int:
    from careroute.store.repository import Store

    settings = _settings(args)
    Store.from_url(settings.database_url).migrate()
    print(f"database migrated to the latest schema ({_safe_url(settings.database_url)})", file=sys.stderr)
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    from careroute.store.engine import normalise_url

    return make_url(normalise_url(url)).render_as_string(hide_password=True)


def build_serve_app(args: argparse.Namespace) -> Any:
    """The app `serve` runs, built from its arguments; with --workers N each worker process builds its own."""
    from careroute.api import create_app
    from careroute.notify import Notifier, NotifySettings
    from careroute.scheduler import Scheduler

    settings = _settings(args)
    dispatcher = _dispatcher(settings, migrate=False)
    scheduler = None
    if settings.scheduler:
        notify = NotifySettings(
            smtp_host=settings.smtp_host,
            smtp_port=settings.smtp_port,
            mail_from=settings.mail_from,
            webhook_secret=settings.webhook_secret.encode() if settings.webhook_secret else None,
        )
        scheduler = Scheduler(dispatcher, Notifier(dispatcher.store, notify, dispatcher.clock))
    from careroute.api.integrations import Listeners, SourcesError, load_sources

    try:
        sources = load_sources(settings.sources_path)
    except SourcesError as exc:
        raise CliError(str(exc)) from None
    if sources.open:
        print(
            "careroute: no CAREROUTE_SOURCES file: the integration endpoints (/webhooks, /fhir, /hl7, /voicemail, "
            "/fax) accept unsigned requests. Fine for a demo on this machine; set one before real use.",
            file=sys.stderr,
        )
    listeners = Listeners(
        host=args.host,
        mllp_port=settings.mllp_port,
        smtp_port=settings.smtp_listen_port,
        smtp_recipients=settings.smtp_recipients,
    )
    from careroute.api.security import Security
    from careroute.ratelimit import Limit

    demo = settings.demo or bool(getattr(args, "demo", False))
    security = Security(
        demo=demo,
        secure_cookies=settings.secure_cookies,
        intake_limit=Limit(rate=settings.intake_rate, burst=max(1, int(settings.intake_rate * 2))),
    )
    if demo:
        print(
            "careroute: DEMO MODE: no passwords and an open API. For trying careroute on this machine with made-up "
            "data only.",
            file=sys.stderr,
        )
    else:
        from careroute.store import accounts

        if not accounts.list_users(dispatcher.store):
            print(
                "careroute: no users yet: add one with `careroute users add NAME --role admin`, and a token for "
                "each system with `careroute tokens create NAME --scopes intake`",
                file=sys.stderr,
            )
    app = create_app(
        dispatcher, max_body_bytes=settings.max_body_bytes, scheduler=scheduler, sources=sources, listeners=listeners,
        security=security,
    )  # fmt: skip
    return app


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from careroute import serving

    if args.workers < 1:
        raise CliError("--workers must be 1 or more")
    if args.workers > 1:
        settings = _settings(args)
        if settings.mllp_port is not None or settings.smtp_listen_port is not None:
            raise CliError(
                "the MLLP and SMTP listeners need one port each: run them in an instance with --workers 1, "
                "and start the others without CAREROUTE_MLLP_PORT and CAREROUTE_SMTP_LISTEN_PORT"
            )
        dispatcher = _dispatcher(settings, migrate=False)  # a bad pack or database fails here, once, not per worker
        dispatcher.store.engine.dispose()  # the workers open their own connections
        os.environ[serving.ARGS_VARIABLE] = serving.dump_args(args)
        target: Any = serving.FACTORY
    else:
        target = build_serve_app(args)
        dispatcher = target.state.dispatcher
        serving.freeze_startup_objects()
    workers = f", {args.workers} worker processes" if args.workers > 1 else ""
    print(
        f"careroute serving on http://{args.host}:{args.port} (docs at /docs){workers}, "
        f"rule pack {dispatcher.pack.spec.pack.name!r} version {dispatcher.pack.version}",
        file=sys.stderr,
    )
    # Live pages hold streams open; do not let them keep a stopping server waiting.
    uvicorn.run(
        target,
        factory=args.workers > 1,
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        timeout_graceful_shutdown=5,
        # An integration that reuses a kept-alive connection just as the server closes it sees its request
        # fail unanswered (httpx: ReadError). Clients commonly drop idle connections after 5 seconds
        # (httpx, Node), uvicorn's default too: the server keeps them longer, so the client closes first.
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    return 0


def cmd_migrate_store(args: argparse.Namespace) -> int:
    from careroute.store.copy import CopyError, copy_store

    live = sys.stderr.isatty()
    finished: set[str] = set()

    def progress(table: str, copied: int, rows: int, done: int, total: int) -> None:
        if live:
            share = f"{100 * done / total:.0f}%" if total else "100%"
            print(f"\r  {table}: {copied:,} of {rows:,} rows ({share} of all)\033[K", end="", file=sys.stderr)
        elif copied == rows and table not in finished:
            finished.add(table)
            print(f"  {table}: {rows:,} row{'' if rows == 1 else 's'}", file=sys.stderr)
        elif copied and copied % 100_000 == 0:  # a long copy into a log: a line now and then
            print(f"  {table}: {copied:,} of {rows:,} rows", file=sys.stderr)

    print(f"copying {_safe_url(args.source)} into {_safe_url(args.target)} ...", file=sys.stderr)
    try:
        report = copy_store(args.source, args.target, progress)
    except CopyError as exc:
        if live:
            print(file=sys.stderr)
        raise CliError(str(exc)) from None
    if live:
        print(file=sys.stderr)
    print(
        f"copied {report.total:,} rows ({report.rows.get('tasks', 0):,} tasks, {report.rows.get('items', 0):,} items, "
        f"{report.events:,} events); the event chain verifies on the target (last hash {report.last_hash[:12]}). "
        "Point CAREROUTE_DATABASE_URL at the target and start careroute."
    )
    return 0


def cmd_demo_load(args: argparse.Namespace) -> int:
    from careroute.demo import demo_items

    settings = _settings(args)
    dispatcher = _dispatcher(settings, migrate=True)
    results = dispatcher.intake_batch(demo_items(datetime.now(UTC)), at_received=True)
    new = sum(r.created for r in results)
    print(f"demo data: {new} new items, {len(results) - new} already loaded", file=sys.stderr)
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    from careroute.replay import replay

    path = Path(args.items)
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    settings = _settings(args)
    if not args.db:
        settings = Settings(**{**settings.__dict__, "database_url": "sqlite://"})
    dispatcher = _dispatcher(settings, migrate=True)
    summary = replay(dispatcher, path, sys.stdout, sys.stderr)
    print(summary.render(), file=sys.stderr)
    return 0


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CliError(f"{path}, line {n}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict) or "external_id" not in row:
                raise CliError(f"{path}, line {n}: expected an object with external_id")
            rows.append(row)
    return rows


def cmd_eval(args: argparse.Namespace) -> int:
    from careroute import scorecard

    decisions = _read_jsonl(Path(args.decisions))
    labels = _read_jsonl(Path(args.labels))
    result = scorecard.score(decisions, labels)
    if args.json:
        print(json.dumps(result))
        return 0
    for k, v in result.items():
        print(f"{k:32} {v}")
    if not args.brief:
        print("\nconfusion matrix (type):")
        for line in scorecard.render_matrix(scorecard.confusion_matrix(decisions, labels)):
            print("  " + line)
        wrong = scorecard.misses(decisions, labels)
        print(f"\nmisses ({len(wrong)}):")
        for m in wrong:
            parts = [f"{f} {w['label']} -> {w['decided']}" for f, w in m["wrong"].items()]
            print(f"  {m['external_id']}: " + "; ".join(parts))
    return 0


def cmd_rules_check(args: argparse.Namespace) -> int:
    pack = _load_pack(Path(args.path))
    spec = pack.spec
    print(
        f"{args.path}: valid rule pack {spec.pack.name!r}, version {pack.version}: "
        f"{len(spec.queues)} queues, {len(spec.routing)} routing rules, {len(spec.staff)} staff"
    )
    return 0


def cmd_rules_explain(args: argparse.Namespace) -> int:
    from careroute.rules.explain import explain_html, explain_pack

    path = Path(args.path) if args.path else _settings(args).rules_path
    pack = _load_pack(path)
    print(explain_html(pack) if args.html else explain_pack(pack), end="")
    return 0


def cmd_rules_diff(args: argparse.Namespace) -> int:
    from careroute.rules.explain import diff_packs

    old, new = _load_pack(Path(args.old)), _load_pack(Path(args.new))
    changes = diff_packs(old, new)
    if not changes:
        print(f"No differences in what the rules do ({old.version} and {new.version}).")
    for line in changes:
        print(f"- {line}")
    return 0


def cmd_metrics(args: argparse.Namespace) -> int:
    from careroute import scoreboard

    dispatcher = _dispatcher(_settings(args), migrate=False)
    period = None if args.period == "all" else args.period
    rep = scoreboard.report(dispatcher, weeks=args.weeks, period=period)
    if args.csv:
        print(scoreboard.to_csv(rep), end="")
    else:
        for line in scoreboard.summary_lines(rep):
            print(line)
    return 0


def _read_items(path: Path) -> list[Any]:
    from pydantic import ValidationError

    from careroute.intake.contract import describe, parse_item

    if not path.is_file():
        raise CliError(f"{path}: no such file")
    out = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                out.append(parse_item(json.loads(line)))
            except json.JSONDecodeError as exc:
                print(f"careroute: {path}, line {n}: not valid JSON ({exc.msg}); skipped", file=sys.stderr)
            except ValidationError as exc:
                problems = "; ".join(f"{p['field']}: {p['message']}" for p in describe(exc))
                print(f"careroute: {path}, line {n}: {problems}; skipped", file=sys.stderr)
    return out


def cmd_simulate(args: argparse.Namespace) -> int:
    from careroute import whatif

    items = _read_items(Path(args.items))
    pack = _load_pack(Path(args.rules) if args.rules else STARTER_PACK)
    roster = None
    if args.staff:
        try:
            roster = whatif.load_roster(Path(args.staff))
        except whatif.RosterError as exc:
            raise CliError(str(exc)) from None
    first = whatif.run(items, pack, roster, seed=args.seed)
    print(f"{pack.source} (version {pack.version}), {len(items)} items, seed {args.seed}:")
    for line in whatif.describe(first):
        print(f"  {line}")
    if args.compare:
        from careroute.simulate import compare

        other = _load_pack(Path(args.compare))
        second = whatif.run(items, other, roster, seed=args.seed)
        print(f"\n{other.source} (version {other.version}):")
        for line in whatif.describe(second):
            print(f"  {line}")
        print("\nwhat changes:")
        for line in compare(first, second) or ["nothing measurable"]:
            print(f"  - {line}")
    return 0


def cmd_learn(args: argparse.Namespace) -> int:
    from careroute.classify.learned import learn_from_jsonl, train

    out = Path(args.out)
    if args.from_reroutes:
        examples = _reroute_examples(_settings(args))
        if len(examples) < 20:
            raise CliError(f"only {len(examples)} reroute-corrected items in the store: too few to learn from")
        train(examples).save(out)
        print(f"learned from {len(examples)} reroute-corrected items; model written to {out}", file=sys.stderr)
    else:
        if not args.labelled:
            raise CliError("name a labelled JSON Lines file, or use --from-reroutes")
        try:
            learn_from_jsonl(Path(args.labelled), Path(args.labels) if args.labels else None, out)
        except (OSError, ValueError) as exc:
            raise CliError(str(exc)) from None
        print(f"model written to {out}", file=sys.stderr)
    print(f"name it in the rule pack:  classifier: {{model: {out}}}", file=sys.stderr)
    return 0


def _reroute_examples(settings: Settings) -> list[tuple[str, str]]:
    """(normalised text, corrected type) for every item whose task a person rerouted to another type's queue."""
    from sqlalchemy import select

    from careroute.classify import default_rules
    from careroute.misfires import corrected_labels
    from careroute.store.repository import row_to_event, row_to_item
    from careroute.store.tables import events, items

    dispatcher = _dispatcher(settings, migrate=False)
    tag_queues = {t: s.queue for t, s in dispatcher.pack.spec.tags.items()}
    store = dispatcher.store
    with store.read() as conn:
        log = [row_to_event(r) for r in conn.execute(select(events).order_by(events.c.id))]
        labels = corrected_labels(log, tag_queues)
        ids = [label.item_id for label in labels]
        rows = {r.id: r for r in conn.execute(select(items).where(items.c.id.in_(ids)))} if ids else {}
    normaliser = default_rules().compiled.normaliser
    return [
        (normaliser.read(row_to_item(rows[label.item_id]).text).joined(), label.corrected_type)
        for label in labels
        if label.item_id in rows
    ]


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from careroute import audit
    from careroute.store.repository import Store

    store = Store.from_url(_settings(args).database_url)
    _require_migrated(store)
    checked = 0
    breaks = []
    with store.read() as conn:

        def counted() -> Iterator[dict[str, Any]]:
            nonlocal checked
            for row in store.events_in_order(conn):
                checked += 1
                yield row

        breaks = list(audit.verify(counted()))
    for b in breaks:
        print(f"event {b.event_id}: {b.problem}")
    if breaks:
        print(f"careroute: the event log is NOT intact: {len(breaks)} problem(s) in {checked} events", file=sys.stderr)
        return 1
    print(f"the event log is intact: {checked} events, each chained to the one before")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from careroute.store.backup import BackupError, backup

    try:
        print(backup(_settings(args).database_url, Path(args.target)))
    except BackupError as exc:
        raise CliError(str(exc)) from None
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from careroute.store.backup import BackupError, restore

    if not args.yes:
        raise CliError("restore replaces the database: stop the service, then run again with --yes")
    try:
        print(restore(_settings(args).database_url, Path(args.source)))
    except BackupError as exc:
        raise CliError(str(exc)) from None
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from careroute.store.backup import purge_content
    from careroute.store.repository import Store

    if args.older_than_days < 1:
        raise CliError("--older-than-days must be 1 or more")
    store = Store.from_url(_settings(args).database_url)
    _require_migrated(store)
    cutoff = datetime.now(UTC) - timedelta(days=args.older_than_days)
    n = purge_content(store, cutoff)
    print(f"message content and patient fields removed from {n} items of tasks resolved before {cutoff:%Y-%m-%d}")
    return 0


def cmd_audit_access(args: argparse.Namespace) -> int:
    from careroute.store.repository import Store

    if not args.break_glass and (args.task is None) == (args.mrn is None):
        raise CliError("name a task (--task ID) or a patient (--mrn MRN), or ask for --break-glass reads")
    store = Store.from_url(_settings(args).database_url)
    _require_migrated(store)
    action = "break_glass" if args.break_glass else "read_task"
    with store.read() as conn:
        rows = store.who_viewed(conn, task_id=args.task, mrn=args.mrn, action=action)
    for r in rows:
        why = f"  reason: {r.what}" if args.break_glass else ""
        print(f"{r.at.isoformat()}  {r.actor:<16} task {r.task_id}  from {r.source or '?'}{why}")
    print(f"{len(rows)} read(s)", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="careroute", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def db_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", help="database URL or SQLite path (default: $CAREROUTE_DATABASE_URL)")

    def common(p: argparse.ArgumentParser) -> None:
        db_option(p)
        p.add_argument("--rules", help=f"rule pack YAML (default: $CAREROUTE_RULES or {STARTER_PACK.name})")

    p = sub.add_parser("serve", help="run the HTTP service")
    common(p)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--log-level", default="info")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes on this port (default 1); on PostgreSQL, instances and workers share the work",
    )
    p.add_argument(
        "--demo", action="store_true", help="demo mode: no passwords, an open API (the quick start; never for real use)"
    )
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("migrate", help="create or upgrade the database schema")
    common(p)
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser(
        "migrate-store", help="copy a SQLite store into an empty PostgreSQL database (ids and event chain intact)"
    )
    p.add_argument("--from", dest="source", required=True, metavar="URL", help="the store to copy: SQLite path or URL")
    p.add_argument("--to", dest="target", required=True, metavar="URL", help="an empty PostgreSQL database")
    p.set_defaults(func=cmd_migrate_store)

    p = sub.add_parser("demo", help="demo data")
    demo_sub = p.add_subparsers(dest="demo_command", required=True, metavar="ACTION")
    d = demo_sub.add_parser("load", help="load the demo items (safe to run twice)")
    common(d)
    d.set_defaults(func=cmd_demo_load)

    p = sub.add_parser("replay", help="run a JSON Lines file of items through the dispatcher")
    p.add_argument("items", metavar="ITEMS.jsonl")
    p.add_argument("--db", help="database to replay into (default: a fresh in-memory one; :memory: also works)")
    p.add_argument("--rules", help="rule pack YAML (default: the starter pack)")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("eval", help="score decisions against labels")
    p.add_argument("decisions", metavar="DECISIONS.jsonl")
    p.add_argument("labels", metavar="LABELS.jsonl")
    p.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    p.add_argument("--brief", action="store_true", help="only the figures, as ../shared/eval/score.py prints them")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("metrics", help="the scoreboard: queue age, reroute rate, first-contact resolution, escalations")
    common(p)
    p.add_argument("--weeks", type=int, default=8)
    p.add_argument("--period", choices=["week", "day", "all"], default="week")
    p.add_argument("--csv", action="store_true", help="every row, every dimension, as CSV")
    p.set_defaults(func=cmd_metrics)

    p = sub.add_parser("simulate", help="what-if: run items through a pack and roster on the simulated clock")
    p.add_argument("--items", required=True, metavar="ITEMS.jsonl")
    p.add_argument("--rules", metavar="PACK", help="default: the starter pack")
    p.add_argument(
        "--staff", metavar="ROSTER.yaml", help="a roster (staff: [...] as in a rule pack) instead of the pack's"
    )
    p.add_argument("--compare", metavar="OTHER_PACK", help="run again with this pack and say what changes")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser("learn", help="train the learned classifier a rule pack can name")
    p.add_argument("labelled", nargs="?", metavar="LABELLED.jsonl", help="items, each with a `type` (or see --labels)")
    p.add_argument("--labels", metavar="LABELS.jsonl", help="labels by external_id, when the items carry none")
    p.add_argument("--from-reroutes", action="store_true", help="learn from the store's reroute-corrected items")
    p.add_argument("--out", default="learned_model.json", metavar="MODEL.json")
    p.add_argument("--db", help="database URL or SQLite path, with --from-reroutes")
    p.set_defaults(func=cmd_learn)

    p = sub.add_parser("backup", help="a consistent online backup of the database")
    p.add_argument("target", metavar="FILE")
    db_option(p)
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="put a backup back (stop the service first)")
    p.add_argument("source", metavar="FILE")
    db_option(p)
    p.add_argument("--yes", action="store_true", help="yes, replace the database")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("purge", help="retention: remove message content of tasks resolved long ago")
    p.add_argument("--older-than-days", type=int, required=True)
    db_option(p)
    p.set_defaults(func=cmd_purge)

    p = sub.add_parser("audit", help="the tamper-evident event log")
    audit_sub = p.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    a = audit_sub.add_parser("verify", help="check every event's hash chain; name any edited, deleted or moved row")
    db_option(a)
    a.set_defaults(func=cmd_audit_verify)
    a = audit_sub.add_parser("access", help="who read a task's content, or any task of one patient")
    a.add_argument("--task", type=int)
    a.add_argument("--mrn")
    a.add_argument("--break-glass", action="store_true", help="only reads of tasks outside the reader's queues")
    db_option(a)
    a.set_defaults(func=cmd_audit_access)

    from careroute import cli_accounts

    cli_accounts.register(sub, db_option, _settings, _require_migrated, CliError)

    p = sub.add_parser("rules", help="rule packs")
    rules_sub = p.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    r = rules_sub.add_parser("check", help="validate a rule pack and print its version")
    r.add_argument("path", metavar="PATH")
    r.set_defaults(func=cmd_rules_check)
    r = rules_sub.add_parser("explain", help="the whole pack as a plain-English document")
    r.add_argument("path", metavar="PACK", nargs="?", help="default: $CAREROUTE_RULES or the starter pack")
    r.add_argument("--html", action="store_true", help="HTML instead of Markdown")
    r.set_defaults(func=cmd_rules_explain)
    r = rules_sub.add_parser("diff", help="what changes from one pack to another, in plain words")
    r.add_argument("old", metavar="OLD")
    r.add_argument("new", metavar="NEW")
    r.set_defaults(func=cmd_rules_diff)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"careroute: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `careroute replay ... | head`
        return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
