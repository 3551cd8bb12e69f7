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

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            database_url=env.get("CAREROUTE_DATABASE_URL", DEFAULT_DATABASE_URL),
            rules_path=Path(env.get("CAREROUTE_RULES", str(STARTER_PACK))),
            max_body_bytes=int(env.get("CAREROUTE_MAX_BODY_BYTES", "1000000")),
        )
