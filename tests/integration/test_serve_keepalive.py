"""`careroute serve` keeps an idle connection open longer than common clients do (5 s), so a client that
reuses a connection is never answered by a close it could not foresee (httpx: ReadError)."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from careroute.cli import KEEP_ALIVE_SECONDS
from careroute.config import STARTER_PACK
from careroute.store.repository import Store
from tests.integration.test_scheduler_restart import Server

REQUEST = b"GET /healthz HTTP/1.1\r\nHost: careroute\r\n\r\n"


def _response(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return data  # closed by the server
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length = next(int(line.split(b":")[1]) for line in lines if line.lower().startswith(b"content-length"))
    while len(body) < length:
        body += conn.recv(4096)
    return head


def test_an_idle_connection_outlives_a_clients_five_second_pool(tmp_path: Path) -> None:
    assert KEEP_ALIVE_SECONDS > 5
    url = f"sqlite:///{tmp_path / 'keepalive.db'}"
    Store.from_url(url).migrate()
    server = Server(url, STARTER_PACK)
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
            conn.sendall(REQUEST)
            assert _response(conn).startswith(b"HTTP/1.1 200")
            time.sleep(6)  # longer than uvicorn's default keep-alive (5 s), which would have closed it
            conn.sendall(REQUEST)
            assert _response(conn).startswith(b"HTTP/1.1 200")
    finally:
        server.stop()
