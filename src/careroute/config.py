"""Settings read from the environment through one injectable object.

Tests and the CLI build their own `Settings` instead of mutating os.environ.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

STARTER_PACK = Path(__file__).parent / "rules" / "packs" / "primary_care.yaml"
DEFAULT_DATABASE_URL = "sqlite:///var/careroute.db"


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    rules_path: Path = STARTER_PACK
    #: Largest request body the API accepts; bigger ones get a 413 before parsing.
    max_body_bytes: int = 1_000_000
    max_batch_items: int = 1_000
    #: Where links in alerts point (the web app as staff reach it).
    base_url: str = "http://127.0.0.1:8000"
    smtp_host: str | None = None
    smtp_port: int = 25
    mail_from: str = "careroute@localhost"
    #: Signs outbound alert webhooks (HMAC-SHA256, the same scheme careroute checks on inbound ones).
    webhook_secret: str | None = None
    #: Run the timers loop (escalations, shift changes, alerts) inside `careroute serve`.
    scheduler: bool = True
    #: YAML naming each sending system and its secret or token; without it the integration doors are open.
    sources_path: Path | None = None
    mllp_port: int | None = None
    smtp_listen_port: int | None = None
    smtp_recipients: tuple[str, ...] = ()
    #: Demo mode: no passwords, the demo sign-in, an open API. For the quick start on one machine only.
    demo: bool = False
    #: Session cookies only over https (on by default when the base URL is https).
    secure_cookies: bool = False
    #: Intake rate limit per API token (or per address): items per second, sustained; bursts of twice that.
    intake_rate: float = 1000.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            database_url=env.get("CAREROUTE_DATABASE_URL", DEFAULT_DATABASE_URL),
            rules_path=Path(env.get("CAREROUTE_RULES", str(STARTER_PACK))),
            max_body_bytes=int(env.get("CAREROUTE_MAX_BODY_BYTES", "1000000")),
            base_url=env.get("CAREROUTE_BASE_URL", "http://127.0.0.1:8000"),
            smtp_host=env.get("CAREROUTE_SMTP_HOST") or None,
            smtp_port=int(env.get("CAREROUTE_SMTP_PORT", "25")),
            mail_from=env.get("CAREROUTE_MAIL_FROM", "careroute@localhost"),
            webhook_secret=env.get("CAREROUTE_WEBHOOK_SECRET") or None,
            scheduler=env.get("CAREROUTE_SCHEDULER", "1") not in ("0", "false", "no"),
            sources_path=Path(env["CAREROUTE_SOURCES"]) if env.get("CAREROUTE_SOURCES") else None,
            mllp_port=int(env["CAREROUTE_MLLP_PORT"]) if env.get("CAREROUTE_MLLP_PORT") else None,
            smtp_listen_port=int(env["CAREROUTE_SMTP_LISTEN_PORT"]) if env.get("CAREROUTE_SMTP_LISTEN_PORT") else None,
            smtp_recipients=tuple(r.strip() for r in env.get("CAREROUTE_SMTP_RECIPIENTS", "").split(",") if r.strip()),
            demo=env.get("CAREROUTE_DEMO", "0") not in ("0", "false", "no", ""),
            secure_cookies=env.get(
                "CAREROUTE_SECURE_COOKIES", "1" if env.get("CAREROUTE_BASE_URL", "").startswith("https:") else "0"
            )
            not in ("0", "false", "no", ""),
            intake_rate=float(env.get("CAREROUTE_INTAKE_RATE", "1000")),
        )
