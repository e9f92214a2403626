"""The importer `bench/bench_import.py` runs in a process of its own, so that its peak
memory is the importer's alone: it streams an NDJSON file through
``domain.feeds.batch.run_batch`` in 64 KiB reads, as one all-or-nothing batch, and prints
its figures as JSON (seconds from the first read to the result, the result's counts, the
resident memory before the import and the process's peak).

    python -m bench.importer FILE DATABASE_URL
"""

from __future__ import annotations

import asyncio
import json
import resource
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from domain.actor import Actor
from domain.db import Database
from domain.feeds.batch import ndjson_lines, run_batch

ACTOR = Actor.system("bench-import")


async def file_chunks(path: Path, size: int = 1 << 16) -> AsyncIterator[bytes]:
    with path.open("rb") as f:
        while block := f.read(size):
            yield block


def rss_kb(field: str = "VmRSS", pid: str = "self") -> int:
    """A figure of /proc/PID/status in KiB: VmRSS the resident memory now, VmHWM its
    peak. (getrusage's peak would not do: a process started by fork and exec reports at
    least the resident memory of the process that started it.)"""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


async def run(path: Path, url: str) -> dict[str, Any]:
    db = await Database.connect(url, min_size=2, max_size=2)
    try:
        before = rss_kb()
        started = time.perf_counter()
        result = await run_batch(db, ACTOR, ndjson_lines(file_chunks(path)))
        seconds = time.perf_counter() - started
    finally:
        await db.close()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"seconds": seconds, "status": result.status, "applied": result.applied,
            "rejected": result.rejected, "lines": result.lines_read,
            "rejections": [r.as_json() for r in result.rejections[:5]],
            "rss_before_kb": before, "peak_kb": rss_kb("VmHWM"),
            "cpu_seconds": usage.ru_utime + usage.ru_stime}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(run(Path(sys.argv[1]), sys.argv[2]))))
