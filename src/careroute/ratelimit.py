"""Token-bucket rate limits per key (a token, an address), on a clock passed in.

Each key's bucket holds up to `burst` requests and refills at `rate` per second,
so a steady integration is never limited while a script hammering sign-in or
intake is, within a second. Buckets live in this process's memory: several
instances each allow the rate (document it; the limit is about abuse, not billing).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    rate: float  # requests per second, sustained
    burst: int  # requests allowed at once

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("a limit needs a positive rate and a burst of at least 1")


class Buckets:
    """Thread-safe buckets; `allow(key, now)` takes one request's worth or says how long to wait."""

    def __init__(self, limit: Limit, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.max_keys = max_keys
        self._state: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def allow(self, key: str, now: float) -> float:
        """0.0 when allowed; otherwise the seconds until a request would be."""
        rate, burst = self.limit.rate, float(self.limit.burst)
        with self._lock:
            tokens, at = self._state.get(key, (burst, now))
            tokens = min(burst, tokens + max(0.0, now - at) * rate)
            if tokens >= 1.0:
                self._remember(key, (tokens - 1.0, now))
                return 0.0
            self._remember(key, (tokens, now))
            return (1.0 - tokens) / rate

    def _remember(self, key: str, state: tuple[float, float]) -> None:
        if key not in self._state and len(self._state) >= self.max_keys:
            # Forget the oldest half (dicts keep insertion order): an attacker cycling addresses
            # cannot grow memory without bound, and a forgotten key starts with a full bucket.
            for old in list(self._state)[: self.max_keys // 2]:
                del self._state[old]
        self._state[key] = state
