"""Passwords, API tokens, session ids and the lockout policy: pure functions, no store.

- Passwords are argon2id hashes (argon2-cffi's defaults, RFC 9106's second recommended
  profile), re-hashed on sign-in when the parameters change.
- API tokens look like `crt_<id>_<secret>`: the id (public, safe to log and list) finds
  the row; only SHA-256 of the secret is stored. A 256-bit random secret needs no slow
  hash: there is nothing to guess from its digest.
- Session ids are random too; the cookie carries the id, the store its SHA-256.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()

#: Shorter passwords are refused when a user is added or changes theirs (NIST SP 800-63B asks for ≥ 8).
MIN_PASSWORD_LENGTH = 10
#: After this many failed sign-ins in a row the account locks for LOCKOUT.
MAX_FAILED_SIGNINS = 5
LOCKOUT = timedelta(minutes=15)
SESSION_LIFETIME = timedelta(hours=12)
TOKEN_PREFIX = "crt"


class PasswordTooWeak(ValueError):
    pass


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooWeak(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


#: Verified against when the user does not exist, so that an unknown name costs as long as a wrong password.
DUMMY_HASH = _hasher.hash("careroute-no-such-user")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class NewToken:
    id: str
    secret_hash: str
    #: Shown once to whoever created it; never stored.
    token: str


def new_token() -> NewToken:
    token_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return NewToken(token_id, digest(secret), f"{TOKEN_PREFIX}_{token_id}_{secret}")


def parse_token(token: str) -> tuple[str, str] | None:
    """(id, secret) of a well-formed token, else None."""
    prefix, _, rest = token.partition("_")
    token_id, _, secret = rest.partition("_")
    if prefix != TOKEN_PREFIX or len(token_id) != 12 or not secret or len(token) > 200:
        return None
    return token_id, secret


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(digest(secret), stored_hash)


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and now < locked_until


def after_failed_signin(failed_before: int, now: datetime) -> tuple[int, datetime | None]:
    """The failure count and lock time after one more failed sign-in."""
    failed = failed_before + 1
    if failed >= MAX_FAILED_SIGNINS:
        return 0, now + LOCKOUT
    return failed, None
