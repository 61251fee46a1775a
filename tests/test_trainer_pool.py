"""The model-fitting worker process ends with the service, even when the service is killed with SIGKILL."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time

import psutil
import pytest

PARENT = """
import os, sys
from success_metrics.query.trainer import fitting_pool
pool = fitting_pool()
print(pool.submit(os.getpid).result(timeout=60), flush=True)
sys.stdin.read()
"""


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE  # ended, not yet reaped by its new parent
    except psutil.NoSuchProcess:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_fitting_worker_ends_when_the_service_is_killed() -> None:
    service = subprocess.Popen([sys.executable, "-c", PARENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               text=True)
    worker = 0
    try:
        assert service.stdout is not None
        worker = int(service.stdout.readline())
        assert psutil.Process(worker).ppid() == service.pid
        service.kill()
        service.wait()
        deadline = time.monotonic() + 20  # bounded wait for the kernel's signal; normally immediate
        while not gone(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert gone(worker), "the fitting worker outlived the service killed with SIGKILL"
    finally:
        service.kill()
        if worker:
            with contextlib.suppress(psutil.NoSuchProcess):
                psutil.Process(worker).kill()
