"""Start to warm: how long after ``success-metrics serve`` starts its cache warmer has finished its first round
(``/readyz`` says ``"warm": true``), with no user around.

    python benchmarks/warm_start.py [--runs 3] [--tree PATH ...]

Runs the service on the data set of benchmarks/dataset.py (SM_DATA_DIR, or DATABASE_URL), ``--runs`` times per
tree; with several ``--tree`` (source trees of this project, e.g. a copy of an older commit) the runs alternate
between them, so the machine's other load falls on each alike and their ratio is fair.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.dataset import data_dir
from benchmarks.service_process import free_port, start_server


async def one_start(tree: Path | None, config: Path) -> tuple[float, float]:
    """(seconds to ready, seconds to warm) of one start of the service from ``tree`` (None: as installed)."""
    port = free_port()
    log = Path(tempfile.gettempdir()) / f"sm-warm-start-{port}.log"
    if tree is not None:
        os.environ["PYTHONPATH"] = str(tree)
    else:
        os.environ.pop("PYTHONPATH", None)
    started = time.monotonic()
    server = start_server(data_dir(), os.environ.get("DATABASE_URL"), port, config, log)
    ready = None
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as client:
            while True:
                if server.poll() is not None:
                    raise SystemExit(f"the server exited; see {log}")
                try:
                    async with client.get("/readyz") as response:
                        if response.status == 200:
                            ready = ready or time.monotonic() - started
                            if (await response.json()).get("warm"):
                                return ready, time.monotonic() - started
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.25)
    finally:
        server.terminate()
        server.wait(timeout=60)


async def main(args: argparse.Namespace) -> None:
    trees: list[Path | None] = [Path(t).resolve() for t in args.tree] or [None]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as cfg:
        yaml.safe_dump({"dev_issuer_enabled": True}, cfg)
    results: dict[Path | None, list[tuple[float, float]]] = {t: [] for t in trees}
    try:
        for run in range(args.runs):
            for tree in trees:
                ready, warm = await one_start(tree, Path(cfg.name))
                results[tree].append((ready, warm))
                print(f"run {run + 1} {tree or 'installed'}: ready {ready:.1f} s, warm {warm:.1f} s", flush=True)
    finally:
        os.unlink(cfg.name)
    for tree, runs in results.items():
        warm = statistics.median(w for _, w in runs)
        print(f"{tree or 'installed'}: start to warm median {warm:.1f} s over {len(runs)} runs "
              f"(ready median {statistics.median(r for r, _ in runs):.1f} s)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tree", action="append", default=[], help="a source tree to run (repeat to compare)")
    asyncio.run(main(parser.parse_args()))
