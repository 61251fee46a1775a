"""Saturation alone: the service's dashboard loads a second against the competent raw-SQL baseline, with what each
request costs the service (CPU ms of its process, CPU ms of the database, statements it ran).

    python benchmarks/saturation.py --data-dir DIR [--users 20] [--seconds 20] [--workers 16] [--mix own random]
        [--rounds 2]

DIR is a data set (benchmarks/dataset.py). ``success-metrics serve`` is started on a loopback port and waited for
until warm; then, per mix (``own``: each user's own dashboard at its default range, as kept open; ``random``: any
view of the simulation, benchmarks/views.py), the service and the baseline (benchmarks/baseline.py) are saturated
by ``--workers`` loops with no pause, in ``--rounds`` alternating turns of ``--seconds`` each, so both see the
same machine; the ratio is service / baseline. A request is one /variable or /query call (a load sends every
variable, panel and annotation query of its dashboard). Per request of the service: CPU of the service process
(user + system), CPU of the PostgreSQL processes, and statements executed (pg_stat_statements' calls, reset before
each turn; the turns are placed between the warmer's quarter-hour rounds, service_process.quiet).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.baseline import ensure_indexes, raw_sql_load
from benchmarks.load import Tally, User, load_view, make_users, saturate
from benchmarks.service_process import PROMETHEUS_TOKEN, embedded_dsn, quiet, serving
from benchmarks.views import View, load_dashboards


def cpu_s(processes: list[psutil.Process]) -> float:
    total = 0.0
    for p in processes:
        try:
            t = p.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system
    return total


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    """The embedded postmaster (its pid file) and its children, now (backends come and go: ask before each turn)."""
    pid = int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])
    master = psutil.Process(pid)
    return [master, *master.children(recursive=True)]


async def statements(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                                   "WHERE query NOT LIKE '%pg_stat_statements%'"))


async def lookups(client: Any) -> dict[str, float]:
    """The service's result cache lookups so far, by result (hit, miss, joined, previous, shared)."""
    async with client.get("/prometheus", headers={"Authorization": f"Bearer {PROMETHEUS_TOKEN}"}) as response:
        text = await response.text()
    return {line.split('"')[1]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith("sm_cache_lookups_total{")}


async def main(args: argparse.Namespace) -> None:
    data_dir = Path(args.data_dir).resolve()
    dashboards = load_dashboards()
    async with serving(data_dir, None) as (server, client):
        dsn = embedded_dsn(data_dir)
        users = await make_users(dsn, data_dir, args.users, random.Random(args.seed))
        service_proc = psutil.Process(server.pid)
        pool = await asyncpg.create_pool(dsn, min_size=2, max_size=args.workers)
        assert pool is not None
        stats = await asyncpg.connect(dsn)
        await stats.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        requests = 0

        async def service(user: User, view: View, rng: random.Random) -> float:
            nonlocal requests
            board = view.dashboard
            requests += len(board.variables) + len(board.panels) + (1 if board.annotations else 0)
            return await load_view(client, user, view, Tally(), rng)

        try:
            made = await ensure_indexes(pool)
            if made:
                print(f"baseline: created {', '.join(made)}")
            baseline = raw_sql_load(pool)
            sides: dict[str, Any] = {"baseline": baseline, "service": service}
            await saturate(users, dashboards, 5, args.workers, args.seed, service, own=True)  # unmeasured: warm
            await saturate(users, dashboards, 5, args.workers, args.seed, baseline, own=True)
            # no warmer round (just after each quarter hour) within the measured turns: its statements would count
            await quiet(client, len(args.mix) * args.rounds * 2 * args.seconds * 1.5 + 30)
            for mix in args.mix:
                own = mix == "own"
                done = {name: [0, 0.0] for name in sides}
                looked: dict[str, float] = {}
                cost = {"cpu": 0.0, "db": 0.0, "statements": 0, "requests": 0, "baseline_db": 0.0}
                for turn in range(args.rounds):
                    for name, side in sides.items():
                        requests = 0
                        pg = postgres_processes(data_dir)
                        await stats.execute("SELECT pg_stat_statements_reset()")
                        cpu0, db0, seen = cpu_s([service_proc]), cpu_s(pg), await lookups(client)
                        loads, took = await saturate(users, dashboards, args.seconds, args.workers,
                                                     args.seed + turn, side, own=own)
                        known = {p.pid for p in pg}  # and backends that began during the turn
                        db_used = cpu_s(pg + [p for p in postgres_processes(data_dir) if p.pid not in known]) - db0
                        if name == "service":
                            cost["cpu"] += cpu_s([service_proc]) - cpu0
                            cost["db"] += db_used
                            cost["statements"] += await statements(stats) - 1  # the reset itself
                            cost["requests"] += requests
                            for result, total in (await lookups(client)).items():
                                looked[result] = looked.get(result, 0.0) + total - seen.get(result, 0.0)
                        else:
                            cost["baseline_db"] += db_used
                        done[name][0] += loads
                        done[name][1] += took
                rate = {name: n / s for name, (n, s) in done.items()}
                n = max(1, int(cost["requests"]))
                cpu, db, per = cost["cpu"] * 1000 / n, cost["db"] * 1000 / n, cost["statements"] / n
                print(f"{mix}: service {rate['service']:.1f} loads/s (n={done['service'][0]}), baseline "
                      f"{rate['baseline']:.1f} loads/s (n={done['baseline'][0]}); ratio "
                      f"{rate['service'] / rate['baseline']:.2f}x; per service request: CPU {cpu:.2f} ms service "
                      f"+ {db:.2f} ms PostgreSQL (backends that ended meanwhile uncounted), {per:.2f} statements "
                      f"(n={n} requests)", flush=True)
                # what a load costs the machine, whichever side gets more of a shared machine's cores: the baseline
                # runs in as many PostgreSQL backends as it has loops, the service in one process
                service_load = (cost["cpu"] + cost["db"]) * 1000 / max(1, done["service"][0])
                baseline_load = cost["baseline_db"] * 1000 / max(1, done["baseline"][0])
                print(f"{mix}: CPU per load: service {service_load:.1f} ms (its process and PostgreSQL), baseline "
                      f"{baseline_load:.1f} ms (PostgreSQL); ratio {baseline_load / service_load:.2f}x; the service's "
                      f"result cache meanwhile (the warmer's lookups too): "
                      + ", ".join(f"{k} {v:.0f}" for k, v in sorted(looked.items())), flush=True)
        finally:
            await stats.close()
            await pool.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True, help="SM_DATA_DIR of the data set (benchmarks/dataset.py)")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20.0, help="each turn of each side")
    parser.add_argument("--rounds", type=int, default=2, help="turns of each side per mix, alternating")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--mix", nargs="+", choices=("own", "random"), default=["own", "random"])
    parser.add_argument("--seed", type=int, default=7)
    started = time.monotonic()
    asyncio.run(main(parser.parse_args()))
    print(f"({time.monotonic() - started:.0f} s)")
