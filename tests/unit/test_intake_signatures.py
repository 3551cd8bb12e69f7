"""Signed webhooks and bearer tokens: accept the genuine, refuse missing, malformed, stale, replayed, forged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from careroute.intake.signatures import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    ReplayCache,
    SignatureError,
    SourceCredentials,
    WebhookAuthenticator,
    hash_token,
    sign_request,
    verify_bearer,
    verify_signature,
)

NOW = datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
SECRET = b"portal-secret-0123456789abcdef"
BODY = b'{"external_id": "portal-001", "body": "chest pain since last night"}'
PORTAL = SourceCredentials("portal", hmac_secrets=(SECRET,))


def verify(
    headers: dict[str, str], *, body: bytes = BODY, now: datetime = NOW, cache: ReplayCache | None = None
) -> None:
    verify_signature(PORTAL, headers, body, now, cache if cache is not None else ReplayCache())


def reason(exc: pytest.ExceptionInfo[SignatureError]) -> str:
    return exc.value.reason


def test_it_accepts_a_fresh_genuine_signature() -> None:
    verify(sign_request(SECRET, BODY, NOW - timedelta(seconds=30)))


def test_header_names_are_case_insensitive() -> None:
    headers = {k.lower(): v for k, v in sign_request(SECRET, BODY, NOW).items()}
    verify(headers)


@pytest.mark.parametrize(
    "headers",
    [{}, {TIMESTAMP_HEADER: "1791201600"}, {SIGNATURE_HEADER: "v1=" + "0" * 64}],
)
def test_it_refuses_missing_headers(headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError) as exc:
        verify(headers)
    assert reason(exc) == "missing"


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        ("yesterday", "v1=" + "0" * 64),
        ("1791201600", "sha256=abc"),
        ("1791201600", "v1=xyz"),
        ("1791201600", "v2=" + "0" * 64),
    ],
)
def test_it_refuses_malformed_headers(timestamp: str, signature: str) -> None:
    with pytest.raises(SignatureError) as exc:
        verify({TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature})
    assert reason(exc) == "malformed"


@pytest.mark.parametrize("skew", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_it_refuses_a_stale_or_future_timestamp(skew: timedelta) -> None:
    with pytest.raises(SignatureError) as exc:
        verify(sign_request(SECRET, BODY, NOW + skew))
    assert reason(exc) == "stale"


def test_a_stale_request_is_refused_even_with_a_valid_signature_and_the_window_is_configurable() -> None:
    headers = sign_request(SECRET, BODY, NOW - timedelta(minutes=2))
    strict = SourceCredentials("portal", hmac_secrets=(SECRET,), tolerance=timedelta(minutes=1))
    with pytest.raises(SignatureError) as exc:
        verify_signature(strict, headers, BODY, NOW, ReplayCache())
    assert reason(exc) == "stale"


def test_it_refuses_a_changed_body_a_wrong_secret_and_a_moved_timestamp() -> None:
    good = sign_request(SECRET, BODY, NOW)
    for headers, body in (
        (good, BODY + b" "),
        (sign_request(b"another-secret-0123456789", BODY, NOW), BODY),
        ({**good, TIMESTAMP_HEADER: str(int(NOW.timestamp()) - 1)}, BODY),
    ):
        with pytest.raises(SignatureError) as exc:
            verify(headers, body=body)
        assert reason(exc) == "mismatch"


def test_it_refuses_a_replay_inside_the_window_and_forgets_after_it() -> None:
    cache = ReplayCache()
    headers = sign_request(SECRET, BODY, NOW)
    verify(headers, cache=cache)
    with pytest.raises(SignatureError) as exc:
        verify(headers, now=NOW + timedelta(seconds=10), cache=cache)
    assert reason(exc) == "replayed"
    # Once outside the window, the stale check refuses it and the cache may let it go.
    with pytest.raises(SignatureError) as exc:
        verify(headers, now=NOW + timedelta(minutes=6), cache=cache)
    assert reason(exc) == "stale"
    assert len(cache) == 0


def test_the_replay_cache_is_bounded() -> None:
    cache = ReplayCache(max_entries=3)
    for i in range(10):
        assert cache.check_and_add(f"k{i}", NOW + timedelta(minutes=5), NOW)
    assert len(cache) == 3
    assert not cache.check_and_add("k9", NOW + timedelta(minutes=5), NOW)


def test_a_forged_request_does_not_enter_the_replay_cache() -> None:
    cache = ReplayCache()
    with pytest.raises(SignatureError):
        verify({TIMESTAMP_HEADER: str(int(NOW.timestamp())), SIGNATURE_HEADER: "v1=" + "a" * 64}, cache=cache)
    assert len(cache) == 0


def test_secret_rotation_accepts_old_and_new_secrets() -> None:
    new = b"portal-secret-NEW-0123456789ab"
    rotating = SourceCredentials("portal", hmac_secrets=(new, SECRET))
    cache = ReplayCache()
    verify_signature(rotating, sign_request(SECRET, BODY, NOW), BODY, NOW, cache)
    verify_signature(rotating, sign_request(new, BODY, NOW), BODY, NOW, cache)


def test_errors_and_reprs_never_contain_the_body_or_secrets() -> None:
    with pytest.raises(SignatureError) as exc:
        verify(sign_request(b"wrong-secret-0123456789", BODY, NOW))
    assert "chest" not in str(exc.value) and "chest" not in repr(exc.value)
    assert SECRET.decode() not in repr(PORTAL)


def test_credentials_refuse_short_secrets_and_bad_hashes() -> None:
    with pytest.raises(ValueError):
        SourceCredentials("x", hmac_secrets=(b"short",))
    with pytest.raises(ValueError):
        SourceCredentials("x", token_sha256=("abc",))


def test_bearer_tokens_are_checked_against_stored_hashes() -> None:
    creds = SourceCredentials("phone", token_sha256=(hash_token("tok-phone-system-1"),))
    verify_bearer(creds, "Bearer tok-phone-system-1")
    cases = [(None, "missing"), ("Basic abc", "malformed"), ("Bearer ", "malformed"), ("Bearer tok-other", "mismatch")]
    for header, expected in cases:
        with pytest.raises(SignatureError) as exc:
            verify_bearer(creds, header)
        assert reason(exc) == expected


def test_the_authenticator_picks_the_scheme_per_source() -> None:
    auth = WebhookAuthenticator([PORTAL, SourceCredentials("phone", token_sha256=(hash_token("tok-phone-system-1"),))])
    auth.authenticate("portal", sign_request(SECRET, BODY, NOW), BODY, NOW)
    auth.authenticate("phone", {"authorization": "Bearer tok-phone-system-1"}, BODY, NOW)
    with pytest.raises(SignatureError) as exc:
        auth.authenticate("portal", {"Authorization": "Bearer tok-phone-system-1"}, BODY, NOW)
    assert reason(exc) == "missing"
    with pytest.raises(SignatureError) as exc:
        auth.authenticate("nobody", sign_request(SECRET, BODY, NOW), BODY, NOW)
    assert reason(exc) == "mismatch"
