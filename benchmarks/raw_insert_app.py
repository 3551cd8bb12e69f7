"""Reference endpoint: the same web stack (FastAPI + uvicorn + SQLAlchemy) doing one raw insert per request.

python benchmarks/raw_insert_app.py DATABASE_URL PORT
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from fastapi import FastAPI
from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, insert

from careroute.store.engine import make_engine

metadata = MetaData()
raw = Table(
    "bench_raw_http",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("external_id", String(200)),
    Column("payload", JSON),
)


def main() -> None:
    url, port = sys.argv[1], int(sys.argv[2])
    engine = make_engine(url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    app = FastAPI()

    @app.post("/raw")
    def post(payload: dict[str, Any]) -> dict[str, str]:
        with engine.begin() as conn:
            conn.execute(insert(raw).values(external_id=payload.get("external_id"), payload=payload))
        return {"ok": "stored"}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
