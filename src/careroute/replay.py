"""Replay a JSON Lines file of items through the dispatcher on a simulated clock."""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from careroute.dispatcher import Dispatcher, Prepared, prepare_items
from careroute.intake.contract import describe, parse_item
from careroute.model import InboundItem

CHUNK = 250  # items per transaction: fast, and a crash loses at most one chunk of a replay


@dataclass
class ReplaySummary:
    lines: int = 0
    items: int = 0
    skipped: list[str] = field(default_factory=list)
    created: int = 0
    repeats: int = 0
    duplicates: int = 0
    by_queue: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def render(self) -> str:
        rate = self.items / self.seconds if self.seconds else 0.0
        out = [
            f"replayed {self.items} items from {self.lines} lines in {self.seconds:.2f} s ({rate:,.0f} items/s)",
            f"tasks created {self.created}, duplicates merged {self.duplicates}, repeats ignored {self.repeats}, "
            f"lines skipped {len(self.skipped)}",
            "by queue: " + ", ".join(f"{q} {n}" for q, n in self.by_queue.most_common()),
        ]
        out.extend(f"skipped {s}" for s in self.skipped)
        return "\n".join(out)


def read_items(path: Path, summary: ReplaySummary) -> Iterator[InboundItem]:
    """Parse each line; a bad line is recorded with its number and skipped (its content is not echoed)."""
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            summary.lines += 1
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                summary.skipped.append(f"line {n}: not valid JSON (column {exc.colno}: {exc.msg})")
                continue
            try:
                yield parse_item(data)
            except ValidationError as exc:
                problems = "; ".join(f"{p['field']}: {p['message']}" for p in describe(exc))
                summary.skipped.append(f"line {n}: {problems}")


class Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, total: int, stream: IO[str]) -> None:
        self.total = total
        self.stream = stream
        self.enabled = stream.isatty()
        self.last = 0.0

    def update(self, done: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.1 and done < self.total):
            return
        self.last = now
        width = 30
        filled = int(width * done / self.total) if self.total else width
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{self.total} items")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")


_worker_classifier: Any = None


def _worker_start(pack_text: str, source: str) -> None:
    global _worker_classifier
    from careroute.dispatcher import pack_classifier
    from careroute.rules.loader import load_pack_text

    _worker_classifier = pack_classifier(load_pack_text(pack_text, source=source))


def _worker_prepare(batch: list[InboundItem]) -> list[Prepared]:
    return prepare_items(batch, _worker_classifier)


def _chunks(items: Iterator[InboundItem]) -> Iterator[list[InboundItem]]:
    chunk: list[InboundItem] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def replay(
    dispatcher: Dispatcher, path: Path, out: IO[str], err: IO[str] = sys.stderr, workers: int | None = None
) -> ReplaySummary:
    """Feed every item through the dispatcher in input order, writing one Decision per item to `out`.

    Classification and identity extraction (pure CPU work) run in worker processes
    when the file is large, while this process writes to the store in order.
    """
    summary = ReplaySummary()
    with path.open(encoding="utf-8") as f:
        total = sum(1 for line in f if line.strip())
    progress = Progress(total, err)
    started = time.perf_counter()

    def store(batch: list[Prepared]) -> None:
        for result in dispatcher.intake_prepared(batch, at_received=True):
            summary.items += 1
            if not result.created:
                summary.repeats += 1
            elif not result.merged:
                summary.created += 1
            if result.decision.duplicate_of:
                summary.duplicates += 1
            summary.by_queue[result.decision.queue] += 1
            out.write(json.dumps(result.decision.to_dict()) + "\n")
        progress.update(summary.items)

    if workers is None:
        workers = max(1, (os.cpu_count() or 1) - 1) if total >= 8 * CHUNK else 0
    chunks = _chunks(read_items(path, summary))
    pool = None
    if workers:
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_start,
            initargs=(dispatcher.pack.text, dispatcher.pack.source),
        )
        prepared: Iterator[list[Prepared]] = pool.map(_worker_prepare, chunks)
    else:
        prepared = (dispatcher.prepare(chunk) for chunk in chunks)
    try:
        for batch in prepared:
            store(batch)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    out.flush()
    progress.close()
    summary.seconds = time.perf_counter() - started
    return summary
