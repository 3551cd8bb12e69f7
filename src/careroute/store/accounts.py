"""Users, API tokens and sessions in the store: the shell around careroute.credentials.

Every function takes the Store and the time, and commits what it changes.
Nothing here logs a password, a token or a session id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select, update

from careroute import credentials
from careroute.access import ROLES, SCOPES, Principal, Role, visible_queues
from careroute.store.repository import Store
from careroute.store.tables import api_tokens, sessions, users


class AccountError(ValueError):
    """A refusal to show the person: names the field, never a secret."""


@dataclass(frozen=True)
class User:
    id: str
    name: str
    role: Role
    staff_id: str | None
    queues: tuple[str, ...] | None
    clinical: bool
    active: bool
    locked_until: datetime | None


def _user(row: Any) -> User:
    queues = tuple(row.queues) if row.queues is not None else None
    return User(row.id, row.name, row.role, row.staff_id, queues, row.clinical, row.active, row.locked_until)


def add_user(
    store: Store,
    user_id: str,
    password: str,
    now: datetime,
    *,
    name: str | None = None,
    role: str = "staff",
    staff_id: str | None = None,
    queues: Sequence[str] | None = None,
    clinical: bool = False,
) -> User:
    if not user_id or len(user_id) > 64 or not all(c.isalnum() or c in "._-@" for c in user_id):
        raise AccountError("user: 1–64 letters, digits or . _ - @")
    if role not in ROLES:
        raise AccountError(f"role: one of {', '.join(ROLES)}")
    try:
        password_hash = credentials.hash_password(password)
    except credentials.PasswordTooWeak as exc:
        raise AccountError(str(exc)) from None
    with store.write() as conn:
        if conn.execute(select(users.c.id).where(users.c.id == user_id)).first():
            raise AccountError(f"user: {user_id} already exists")
        conn.execute(
            insert(users).values(
                id=user_id,
                name=name or user_id,
                role=role,
                staff_id=staff_id,
                queues=list(queues) if queues is not None else None,
                clinical=clinical,
                password_hash=password_hash,
                failed_signins=0,
                locked_until=None,
                active=True,
                created_at=now,
                updated_at=now,
            )
        )
    found = get_user(store, user_id)
    assert found is not None
    return found


def get_user(store: Store, user_id: str) -> User | None:
    with store.read() as conn:
        row = conn.execute(select(users).where(users.c.id == user_id)).first()
    return _user(row) if row else None


def list_users(store: Store) -> list[User]:
    with store.read() as conn:
        return [_user(r) for r in conn.execute(select(users).order_by(users.c.id))]


def set_active(store: Store, user_id: str, active: bool, now: datetime) -> None:
    with store.write() as conn:
        done = conn.execute(update(users).where(users.c.id == user_id).values(active=active, updated_at=now))
        if done.rowcount == 0:
            raise AccountError(f"user: no user {user_id}")
        if not active:
            # A disabled account's open sessions end now, not when they expire.
            conn.execute(delete(sessions).where(sessions.c.user_id == user_id))


def set_password(store: Store, user_id: str, password: str, now: datetime) -> None:
    try:
        password_hash = credentials.hash_password(password)
    except credentials.PasswordTooWeak as exc:
        raise AccountError(str(exc)) from None
    with store.write() as conn:
        done = conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(password_hash=password_hash, failed_signins=0, locked_until=None, updated_at=now)
        )
        if done.rowcount == 0:
            raise AccountError(f"user: no user {user_id}")
        conn.execute(delete(sessions).where(sessions.c.user_id == user_id))


@dataclass(frozen=True)
class SignIn:
    user: User | None
    #: "ok" | "wrong" (unknown user or wrong password: the person is told the same) | "locked" | "disabled"
    outcome: str


def check_password(store: Store, user_id: str, password: str, now: datetime) -> SignIn:
    """One sign-in attempt: counts failures, locks after too many, and never says which part was wrong."""
    with store.read() as conn:
        row = conn.execute(select(users).where(users.c.id == user_id[:64])).first()
    if row is None:
        credentials.verify_password(credentials.DUMMY_HASH, password)
        return SignIn(None, "wrong")
    if credentials.locked(row.locked_until, now):
        return SignIn(_user(row), "locked")
    if not credentials.verify_password(row.password_hash, password):
        failed, locked_until = credentials.after_failed_signin(row.failed_signins, now)
        with store.write() as conn:
            conn.execute(
                update(users)
                .where(users.c.id == row.id)
                .values(failed_signins=failed, locked_until=locked_until, updated_at=now)
            )
        return SignIn(_user(row), "locked" if locked_until else "wrong")
    if not row.active:
        return SignIn(_user(row), "disabled")
    values: dict[str, Any] = {"failed_signins": 0, "locked_until": None}
    if credentials.needs_rehash(row.password_hash):
        values["password_hash"] = credentials.hash_password(password)
    if row.failed_signins or row.locked_until or "password_hash" in values:
        with store.write() as conn:
            conn.execute(update(users).where(users.c.id == row.id).values(**values))
    return SignIn(_user(row), "ok")


def user_principal(user: User, staff_queues: Sequence[str] | None) -> Principal:
    return Principal(
        id=user.id,
        kind="user",
        role=user.role,
        name=user.name,
        staff_id=user.staff_id,
        queues=visible_queues(user.role, staff_queues, user.queues),
        clinical=user.clinical,
    )


# -- sessions ------------------------------------------------------------------


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str


def start_session(store: Store, user_id: str, now: datetime, source: str | None = None) -> tuple[str, str]:
    """A new session: (the cookie value, its CSRF token)."""
    session_id = credentials.new_session_id()
    csrf = credentials.new_csrf_token()
    with store.write() as conn:
        conn.execute(
            insert(sessions).values(
                id_hash=credentials.digest(session_id),
                user_id=user_id,
                csrf=csrf,
                created_at=now,
                expires_at=now + credentials.SESSION_LIFETIME,
                source=(source or "")[:64],
            )
        )
    return session_id, csrf


def find_session(store: Store, session_id: str, now: datetime) -> Session | None:
    if not session_id or len(session_id) > 100:
        return None
    with store.read() as conn:
        row = conn.execute(
            select(sessions.c.csrf, sessions.c.expires_at, users)
            .join(users, users.c.id == sessions.c.user_id)
            .where(sessions.c.id_hash == credentials.digest(session_id))
        ).first()
    if row is None or row.expires_at <= now or not row.active:
        return None
    return Session(_user(row), row.csrf)


def end_session(store: Store, session_id: str) -> None:
    with store.write() as conn:
        conn.execute(delete(sessions).where(sessions.c.id_hash == credentials.digest(session_id)))


# -- API tokens ------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    id: str
    name: str
    scopes: tuple[str, ...]
    created_by: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def _token(row: Any) -> Token:
    return Token(
        row.id, row.name, tuple(row.scopes), row.created_by, row.created_at, row.revoked_at, row.last_used_at
    )


def create_token(store: Store, name: str, scopes: Sequence[str], created_by: str, now: datetime) -> tuple[Token, str]:
    """A new token and its secret text, which is shown once and never stored."""
    if not name.strip() or len(name) > 200:
        raise AccountError("name: 1–200 characters")
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise AccountError(f"scopes: one or more of {', '.join(SCOPES)}")
    made = credentials.new_token()
    with store.write() as conn:
        conn.execute(
            insert(api_tokens).values(
                id=made.id,
                name=name.strip(),
                scopes=sorted(set(scopes)),
                secret_hash=made.secret_hash,
                created_by=created_by[:64],
                created_at=now,
            )
        )
    return Token(made.id, name.strip(), tuple(sorted(set(scopes))), created_by, now, None, None), made.token


def list_tokens(store: Store) -> list[Token]:
    with store.read() as conn:
        return [_token(r) for r in conn.execute(select(api_tokens).order_by(api_tokens.c.created_at))]


def revoke_token(store: Store, token_id: str, now: datetime) -> None:
    with store.write() as conn:
        done = conn.execute(
            update(api_tokens)
            .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        if done.rowcount == 0:
            raise AccountError(f"token: no active token {token_id}")


def token_principal(store: Store, token: str) -> Principal | None:
    """The integration behind a bearer token, or None for an unknown, malformed or revoked one."""
    parsed = credentials.parse_token(token)
    if parsed is None:
        return None
    token_id, secret = parsed
    with store.read() as conn:
        row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
    if row is None or row.revoked_at is not None or not credentials.secret_matches(secret, row.secret_hash):
        return None
    scopes = frozenset(row.scopes)
    return Principal(id=f"token:{row.id}", kind="token", role="integration", name=row.name, scopes=scopes)
