"""`careroute users ...` and `careroute tokens ...`: accounts for people and for systems.

Passwords are read from the terminal (or one line of standard input with
--password-stdin, for scripts); they never appear in arguments, where the
process list and shell history would keep them. A token is printed once.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from careroute.access import ROLES, SCOPES


def _store(
    args: argparse.Namespace, settings: Callable[[argparse.Namespace], Any], require: Callable[[Any], None]
) -> Any:
    from careroute.store.repository import Store

    store = Store.from_url(settings(args).database_url)
    require(store)
    return store


def _password(args: argparse.Namespace, error: type[Exception]) -> str:
    if args.password_stdin:
        line = sys.stdin.readline().rstrip("\n")
        if not line:
            raise error("password: standard input was empty")
        return line
    if not sys.stdin.isatty():
        raise error("password: no terminal to ask on; pass --password-stdin and pipe it in")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Again: "):
        raise error("password: the two entries differ")
    return first


def register(
    sub: Any,
    db_option: Callable[[argparse.ArgumentParser], None],
    settings: Callable[[argparse.Namespace], Any],
    require: Callable[[Any], None],
    error: type[Exception],
) -> None:
    from careroute.store import accounts

    def now() -> datetime:
        return datetime.now(UTC)

    def run(action: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        def wrapped(args: argparse.Namespace) -> int:
            try:
                return action(args)
            except accounts.AccountError as exc:
                raise error(str(exc)) from None

        return wrapped

    def users_add(args: argparse.Namespace) -> int:
        store = _store(args, settings, require)
        queues = [q.strip() for q in args.queues.split(",") if q.strip()] if args.queues else None
        user = accounts.add_user(
            store, args.user, _password(args, error), now(), name=args.name, role=args.role,
            staff_id=args.staff, queues=queues, clinical=args.clinical,
        )  # fmt: skip
        print(f"added {user.id} ({user.role}{', clinical' if user.clinical else ''})", file=sys.stderr)
        return 0

    def users_list(args: argparse.Namespace) -> int:
        for u in accounts.list_users(_store(args, settings, require)):
            state = "active" if u.active else "disabled"
            queues = ",".join(u.queues) if u.queues is not None else "-"
            print(f"{u.id:<20} {u.role:<11} {state:<9} staff={u.staff_id or '-'} queues={queues}")
        return 0

    def users_disable(args: argparse.Namespace) -> int:
        accounts.set_active(_store(args, settings, require), args.user, False, now())
        print(f"disabled {args.user}; their sessions have ended", file=sys.stderr)
        return 0

    def users_enable(args: argparse.Namespace) -> int:
        accounts.set_active(_store(args, settings, require), args.user, True, now())
        print(f"enabled {args.user}", file=sys.stderr)
        return 0

    def users_password(args: argparse.Namespace) -> int:
        accounts.set_password(_store(args, settings, require), args.user, _password(args, error), now())
        print(f"password changed for {args.user}; their sessions have ended and any lock is lifted", file=sys.stderr)
        return 0

    def tokens_create(args: argparse.Namespace) -> int:
        scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
        token, secret = accounts.create_token(_store(args, settings, require), args.name, scopes, args.by, now())
        print(secret)
        print(
            f"token {token.id} for {token.name!r}, scopes {', '.join(token.scopes)}: shown once, store it now "
            "(send it as 'Authorization: Bearer <token>')",
            file=sys.stderr,
        )
        return 0

    def tokens_list(args: argparse.Namespace) -> int:
        for t in accounts.list_tokens(_store(args, settings, require)):
            state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "active"
            print(f"{t.id}  {','.join(t.scopes):<16} {state:<18} {t.name}")
        return 0

    def tokens_revoke(args: argparse.Namespace) -> int:
        accounts.revoke_token(_store(args, settings, require), args.token_id, now())
        print(f"revoked {args.token_id}: it is refused from now on", file=sys.stderr)
        return 0

    p = sub.add_parser("users", help="people who sign in: add, list, disable, enable, change a password")
    users = p.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    u = users.add_parser("add", help="add a user (asks for the password)")
    u.add_argument("user", help="the user name they sign in with")
    u.add_argument("--role", choices=ROLES, default="staff")
    u.add_argument("--name", help="their name as pages show it")
    u.add_argument("--staff", help="the rule pack's staff id this person is (their queues and their work)")
    u.add_argument("--queues", help="comma-separated queues they see (default: a staff member's own; others all)")
    u.add_argument("--clinical", action="store_true", help="a clinician: may break the glass with a reason")
    u.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    db_option(u)
    u.set_defaults(func=run(users_add))
    u = users.add_parser("list", help="every user, role and state")
    db_option(u)
    u.set_defaults(func=run(users_list))
    for name, action, text in (
        ("disable", users_disable, "stop a user signing in (ends their sessions)"),
        ("enable", users_enable, "let a disabled user sign in again"),
    ):
        u = users.add_parser(name, help=text)
        u.add_argument("user")
        db_option(u)
        u.set_defaults(func=run(action))
    u = users.add_parser("password", help="set a user's password (ends their sessions, lifts a lock)")
    u.add_argument("user")
    u.add_argument("--password-stdin", action="store_true")
    db_option(u)
    u.set_defaults(func=run(users_password))

    p = sub.add_parser("tokens", help="API tokens for systems: create, list, revoke")
    tokens = p.add_subparsers(dest="tokens_command", required=True, metavar="ACTION")
    t = tokens.add_parser("create", help="a new token (printed once)")
    t.add_argument("name", help="what uses it, e.g. 'EHR interface'")
    t.add_argument("--scopes", default="intake", help=f"comma-separated: {', '.join(SCOPES)} (default: intake)")
    t.add_argument("--by", default="cli", help="who is creating it (recorded)")
    db_option(t)
    t.set_defaults(func=run(tokens_create))
    t = tokens.add_parser("list", help="every token: id, scopes, state (never the secret)")
    db_option(t)
    t.set_defaults(func=run(tokens_list))
    t = tokens.add_parser("revoke", help="refuse a token from now on")
    t.add_argument("token_id", help="the id `tokens list` shows")
    db_option(t)
    t.set_defaults(func=run(tokens_revoke))
