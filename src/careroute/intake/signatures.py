"""Who may post to careroute: signed webhooks (HMAC-SHA256) and bearer tokens, per source.

Header scheme for a signed request (the sender's side is `sign_request`):

    X-Careroute-Timestamp: 1791201600          (Unix seconds, when the sender signed)
    X-Careroute-Signature: v1=<hex>[,v1=<hex>] (HMAC-SHA256 of f"{timestamp}.{raw_body}")

The signature covers the raw body bytes exactly as received (never a re-serialised JSON),
and the timestamp, so a captured request cannot be replayed later with a new timestamp.
Several `v1=` values are allowed so a sender can sign with an old and a new secret while a
secret is rotated; the receiver also accepts any of its stored secrets for the same reason.

A request is refused, in this order, as `missing` (no header), `malformed` (unparsable
header), `stale` (timestamp outside the tolerance window, either way), `mismatch` (no
signature matches) or `replayed` (this exact signature was already accepted inside the
window). Only verified signatures enter the replay cache, so forged requests cannot fill it.

Bearer tokens are compared by their SHA-256: careroute stores only hashes, so a leaked
configuration does not leak a usable token.

Nothing here logs, and no exception message contains the body, a secret or a token.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from careroute.model import require_aware

TIMESTAMP_HEADER = "X-Careroute-Timestamp"
SIGNATURE_HEADER = "X-Careroute-Signature"
AUTHORIZATION_HEADER = "Authorization"
SIGNATURE_VERSION = "v1"
DEFAULT_TOLERANCE = timedelta(minutes=5)

Reason = Literal["missing", "malformed", "stale", "replayed", "mismatch"]


class SignatureError(Exception):
    """A request that failed authentication; `reason` is a stable code for metrics and the 401 body."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason: Reason = reason

    def __repr__(self) -> str:
        return f"SignatureError(reason={self.reason!r}, message={str(self)!r})"


def hash_token(token: str) -> str:
    """The hex SHA-256 of a bearer token, as it is stored in configuration."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class SourceCredentials:
    """One source's credentials (EHR integration layer, portal, phone system...).

    `hmac_secrets` holds every secret currently accepted (several during a rotation);
    `token_sha256` the hex SHA-256 of every accepted bearer token. Secrets never appear in repr.
    """

    source: str
    hmac_secrets: tuple[bytes, ...] = field(default=(), repr=False)
    token_sha256: tuple[str, ...] = field(default=(), repr=False)
    tolerance: timedelta = DEFAULT_TOLERANCE

    def __post_init__(self) -> None:
        if self.tolerance <= timedelta(0):
            raise ValueError("tolerance must be positive")
        if any(len(s) < 16 for s in self.hmac_secrets):
            # Short secrets can be brute-forced offline from one captured request.
            raise ValueError(f"source {self.source!r}: HMAC secrets must be at least 16 bytes")
        if any(len(h) != 64 for h in self.token_sha256):
            raise ValueError(f"source {self.source!r}: token hashes must be hex SHA-256 (64 characters)")


class ReplayCache:
    """Signatures already accepted, each kept until its timestamp leaves the tolerance window.

    Bounded: when full, the oldest accepted entries are dropped first (a replay of a dropped one
    would no longer be caught, hence the generous default). Size it for the
    traffic of one tolerance window (the default 100,000 covers ~330 requests/s for 5 minutes).
    The clock is passed in, so the class is pure and testable.
    """

    def __init__(self, max_entries: int = 100_000) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.max_entries = max_entries
        # key -> expiry. Insertion order is close to expiry order (every expiry is about now +
        # tolerance), so expiring from the front is enough; a late straggler is dropped on its turn.
        self._entries: OrderedDict[str, datetime] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def expire(self, now: datetime) -> None:
        """Forget every entry whose window has passed."""
        while self._entries:
            key, expiry = next(iter(self._entries.items()))
            if expiry > now:
                break
            del self._entries[key]

    def check_and_add(self, key: str, expires_at: datetime, now: datetime) -> bool:
        """True if `key` is new (and now remembered until `expires_at`), False if it was seen."""
        self.expire(now)
        if key in self._entries:
            return False
        while len(self._entries) >= self.max_entries:
            self._entries.popitem(last=False)  # the oldest accepted; O(1) even when full
        self._entries[key] = expires_at
        return True


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive lookup that works for plain dicts as well as Starlette's Headers."""
    value = headers.get(name)
    if value is not None:
        return value
    lowered = name.lower()
    for key, val in headers.items():
        if key.lower() == lowered:
            return val
    return None


def compute_signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of `timestamp.body`."""
    return hmac.new(secret, f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()


def sign_request(secret: bytes, body: bytes, now: datetime) -> dict[str, str]:
    """The headers a sender adds to a request (used by tests, examples and outbound webhooks)."""
    timestamp = int(require_aware(now, "now").timestamp())
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: f"{SIGNATURE_VERSION}={compute_signature(secret, timestamp, body)}",
    }


def _parse_signatures(header: str) -> list[str]:
    signatures: list[str] = []
    for part in header.split(","):
        version, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError("malformed", f"{SIGNATURE_HEADER} must be v1=<hex>")
        if version != SIGNATURE_VERSION:
            continue  # a future scheme next to v1 is not an error
        if len(value) != 64 or any(c not in "0123456789abcdef" for c in value.lower()):
            raise SignatureError("malformed", f"{SIGNATURE_HEADER} value is not 64 hex digits")
        signatures.append(value.lower())
    if not signatures:
        raise SignatureError("malformed", f"{SIGNATURE_HEADER} has no v1 signature")
    return signatures


def verify_signature(
    credentials: SourceCredentials,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    replay_cache: ReplayCache,
) -> None:
    """Accept the request or raise SignatureError; an accepted signature cannot be used again."""
    require_aware(now, "now")
    replay_cache.expire(now)
    if not credentials.hmac_secrets:
        raise SignatureError("missing", f"source {credentials.source!r} has no HMAC secret configured")
    ts_header = _header(headers, TIMESTAMP_HEADER)
    sig_header = _header(headers, SIGNATURE_HEADER)
    if not ts_header or not sig_header:
        raise SignatureError("missing", f"{TIMESTAMP_HEADER} and {SIGNATURE_HEADER} are required")
    ts_text = ts_header.strip()
    if not ts_text.isascii() or not ts_text.isdigit() or len(ts_text) > 12:
        raise SignatureError("malformed", f"{TIMESTAMP_HEADER} must be Unix seconds")
    timestamp = int(ts_text)
    offered = _parse_signatures(sig_header)

    age = now.timestamp() - timestamp
    if abs(age) > credentials.tolerance.total_seconds():
        raise SignatureError("stale", f"{TIMESTAMP_HEADER} is outside the {credentials.tolerance} window")

    expected = [compute_signature(secret, timestamp, body) for secret in credentials.hmac_secrets]
    matched: str | None = None
    # Compare every pair (no early exit) so timing does not tell which secret or position matched.
    for candidate in offered:
        for good in expected:
            if hmac.compare_digest(candidate, good):
                matched = candidate
    if matched is None:
        raise SignatureError("mismatch", "signature does not match")

    expires_at = now + credentials.tolerance + timedelta(seconds=max(0.0, -age))
    if not replay_cache.check_and_add(f"{credentials.source}:{matched}", expires_at, now):
        raise SignatureError("replayed", "this signed request was already accepted")


def verify_bearer(credentials: SourceCredentials, authorization: str | None) -> None:
    """Accept `Authorization: Bearer <token>` when the token's SHA-256 is stored; else SignatureError."""
    if not authorization:
        raise SignatureError("missing", f"{AUTHORIZATION_HEADER} header is required")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise SignatureError("malformed", f"{AUTHORIZATION_HEADER} must be 'Bearer <token>'")
    offered = hash_token(token)
    ok = False
    for stored in credentials.token_sha256:
        ok |= hmac.compare_digest(offered, stored.lower())
    if not ok:
        raise SignatureError("mismatch", "bearer token is not valid for this source")


class WebhookAuthenticator:
    """Per-source authentication: a signature when the source has secrets, else a bearer token."""

    def __init__(self, sources: Iterable[SourceCredentials], replay_cache: ReplayCache | None = None) -> None:
        self._sources = {c.source: c for c in sources}
        self.replay_cache = replay_cache if replay_cache is not None else ReplayCache()

    def __repr__(self) -> str:
        return f"WebhookAuthenticator(sources={sorted(self._sources)!r})"

    def authenticate(self, source: str, headers: Mapping[str, str], body: bytes, now: datetime) -> None:
        """Raise SignatureError unless the request is authentic for `source`."""
        credentials = self._sources.get(source)
        if credentials is None:
            # Same reason code as a bad signature: do not tell a caller which source names exist.
            raise SignatureError("mismatch", "unknown source")
        if credentials.hmac_secrets and (
            _header(headers, SIGNATURE_HEADER) is not None or not credentials.token_sha256
        ):
            verify_signature(credentials, headers, body, now, self.replay_cache)
        else:
            verify_bearer(credentials, _header(headers, AUTHORIZATION_HEADER))
