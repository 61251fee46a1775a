"""The periodic audit checkpoint: each tenant's chain head signed into a file under data_dir."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from success_metrics.rbac import audit_verify
from success_metrics.settings import Settings
from success_metrics.storage import Database

log = logging.getLogger(__name__)
CHECKPOINT_INTERVAL_S = 60.0


def checkpoint_path(settings: Settings) -> Path:
    return settings.data_dir / "audit" / audit_verify.CHECKPOINT_FILE


async def checkpoint_loop(db: Database, settings: Settings, secret: bytes) -> None:
    """Every minute, and once more on shutdown, sign each audit chain's head into a file under data_dir."""
    key = audit_verify.checkpoint_key(secret)

    async def once() -> None:
        try:
            async with db.system() as conn:
                await audit_verify.checkpoint(conn, checkpoint_path(settings), key)
        except Exception:  # the loop must outlive one failed round; the next round retries
            log.exception("audit checkpoint failed")

    try:
        while True:
            await asyncio.sleep(CHECKPOINT_INTERVAL_S)
            await once()
    except asyncio.CancelledError:
        await once()
        raise


