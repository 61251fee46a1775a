"""`success-metrics ingest FILE --tenant T`: an NDJSON backfill through the same validate → write path.

The file is read line by line (never whole), cut into transactions of ``batch_size`` events, and each
chunk is recorded in ``ingest_batches`` (source "cli", one run id for the whole file). A line that is
not JSON is rejected like an invalid event and the rest of the file still lands.
"""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from success_metrics.ingest.batch import BadLine, read_ndjson
from success_metrics.ingest.intake import ingest
from success_metrics.ingest.validate import Rejection
from success_metrics.ingest.writer import Source, ensure_tenant
from success_metrics.settings import Settings
from success_metrics.storage import Database

SHOW_REJECTIONS = 20


@dataclass
class BackfillSummary:
    lines: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    seconds: float = 0.0
    samples: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return (self.accepted + self.duplicates) / self.seconds if self.seconds else 0.0


class _Counting:
    """Wraps a binary stream, counting bytes read for the progress bar."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.read_bytes = 0

    def __iter__(self) -> Any:
        for line in self.stream:
            self.read_bytes += len(line)
            yield line


async def backfill(db: Database, settings: Settings, file: Path, tenant: str, batch_size: int = 5000,
                   console: Console | None = None) -> BackfillSummary:
    console = console or Console(stderr=True)
    await ensure_tenant(db, tenant)
    stream: BinaryIO = sys.stdin.buffer if str(file) == "-" else open(file, "rb")  # noqa: SIM115
    size = None if str(file) == "-" else file.stat().st_size
    summary = BackfillSummary()
    run_id = f"cli-{uuid.uuid4().hex[:12]}"
    started = time.perf_counter()
    counting = _Counting(stream)
    columns = [TextColumn("[bold]ingest[/] {task.fields[tenant]}"), BarColumn(), DownloadColumn(),
               TextColumn("{task.fields[events]} events"), TimeElapsedColumn(), TimeRemainingColumn()]
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("ingest", total=size, tenant=tenant, events=0)
            events: list[Any] = []
            lines: list[int] = []
            bad: list[BadLine] = []

            async def flush() -> None:
                report = await ingest(db, tenant, events, source=Source.CLI, retention_months=settings.retention_months,
                                      run_id=run_id, extra_rejected=len(bad))
                summary.accepted += report.accepted
                summary.duplicates += report.duplicates
                summary.rejected += len(report.rejected) + len(bad)
                for b in bad:
                    _sample(summary, b.reason)
                for r in report.rejected:
                    _sample(summary, _line_reason(r, lines))

            for number, item in read_ndjson(counting):
                summary.lines = number
                if isinstance(item, BadLine):
                    bad.append(item)
                else:
                    events.append(item)
                    lines.append(number)
                if len(events) >= batch_size:
                    await flush()
                    events, lines, bad = [], [], []
                    progress.update(task, completed=counting.read_bytes, events=summary.accepted + summary.duplicates)
            if events or bad:
                await flush()
            progress.update(task, completed=counting.read_bytes if size is None else size,
                            events=summary.accepted + summary.duplicates)
    finally:
        if stream is not sys.stdin.buffer:
            stream.close()
    summary.seconds = time.perf_counter() - started
    console.print(f"[bold]{tenant}[/]: {summary.accepted} stored, {summary.duplicates} already there, "
                  f"{summary.rejected} rejected, in {summary.seconds:.1f} s ({summary.rate:,.0f} events/s)")
    for line in summary.samples:
        console.print(f"  [red]rejected[/] {line}", highlight=False)
    if summary.rejected > len(summary.samples):
        console.print(f"  … and {summary.rejected - len(summary.samples)} more")
    return summary


def _sample(summary: BackfillSummary, text: str) -> None:
    if len(summary.samples) < SHOW_REJECTIONS:
        summary.samples.append(text)


def _line_reason(r: Rejection, lines: list[int]) -> str:
    # pointers index the chunk; say the file's line instead
    line = lines[r.index] if 0 <= r.index < len(lines) else "?"
    inner = r.pointer.split("/", 2)[2] if r.pointer.count("/") >= 2 else ""
    return f"line {line}{' /' + inner if inner else ''}{' (id ' + r.id + ')' if r.id else ''}: {r.reason}"
