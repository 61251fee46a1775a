"""`success-metrics demo --load-only` against an external DATABASE_URL: what compose's one-shot `demo-data` runs."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import yaml

from success_metrics.storage import Database

CLI = "import sys; sys.argv[0] = 'success-metrics'; from success_metrics.tools.cli import main; main()"


async def test_load_only_fills_an_external_database_writes_the_config_and_exits(db: Database,
                                                                                tmp_path: Path) -> None:
    assert db.dsn is not None
    name = f"sm_demo_load_{os.getpid()}"
    admin = await asyncpg.connect(db.dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        url = urlsplit(db.dsn)._replace(path="/" + name).geturl()  # same server (a unix socket in the tests)
        env = {k: v for k, v in os.environ.items() if k != "SM_CONFIG"} | {"DATABASE_URL": url,
                                                                          "SM_DATA_DIR": str(tmp_path)}
        args = [sys.executable, "-W", "ignore", "-c", CLI, "demo", "--load-only", "--scale", "0.01"]
        done = await asyncio.to_thread(subprocess.run, args, env=env, capture_output=True, text=True, timeout=240,
                                       check=False)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "token executive" in done.stdout and "ingest key:" in done.stdout
        config = yaml.safe_load((tmp_path / "demo-config.yaml").read_text(encoding="utf-8"))
        assert config["dev_issuer_enabled"] is True
        assert [t["id"] for t in config["tenants"]] == ["acme", "globex"]
        assert not (tmp_path / "postgres").exists()  # the external database, not an embedded one
        conn = await asyncpg.connect(url)
        try:
            loaded = await conn.fetch("SELECT tenant_id, sum(accepted) AS n FROM ingest_batches "
                                      "WHERE source = 'demo' GROUP BY tenant_id ORDER BY tenant_id")
        finally:
            await conn.close()
        assert [r["tenant_id"] for r in loaded] == ["acme", "globex"] and all(r["n"] > 0 for r in loaded)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
