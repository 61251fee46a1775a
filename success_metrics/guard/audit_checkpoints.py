"""The periodic audit checkpoint: each tenant's chain head signed into a file under data_dir."""

from __future__ import annotations

from pathlib import Path

from success_metrics.rbac import audit_verify
from success_metrics.settings import Settings
from success_metrics.storage import Database

CHECKPOINT_INTERVAL_S = 60.0


def checkpoint_path(settings: Settings) -> Path:
    return settings.data_dir / "audit" / audit_verify.CHECKPOINT_FILE


async def checkpoint(db: Database, settings: Settings, secret: bytes) -> None:
    """Sign each audit chain's head into a file under data_dir: every CHECKPOINT_INTERVAL_S and once more on
    shutdown (the service's background loops run it: server/background.py)."""
    async with db.system() as conn:
        await audit_verify.checkpoint(conn, checkpoint_path(settings), audit_verify.checkpoint_key(secret))
