"""What cli.py hands the command groups it mounts from modules of their own: how to run a job, and with a database.

The groups take these as arguments instead of importing cli, so imports point one way (cli → groups).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Annotated, Any, Protocol, TypeVar

import typer

from success_metrics.settings import Settings
from success_metrics.storage import Database

T = TypeVar("T")

TenantOpt = Annotated[str, typer.Option(help="Tenant id.")]


class Run(Protocol):
    def __call__(self, coro_fn: Callable[[], Coroutine[Any, Any, T]]) -> T: ...


class WithDatabase(Protocol):
    def __call__(self, settings: Settings, job: Callable[[Database], Awaitable[T]]) -> Coroutine[Any, Any, T]: ...


SettingsOrExit = Callable[[], Settings]
