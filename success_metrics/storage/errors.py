"""Storage errors; asyncpg's own exceptions never leave success_metrics/storage.

    StorageError
    ├── DatabaseUnavailable   the server cannot be reached or went away (503, Retry-After)
    ├── MigrationFailed       a migration failed and was rolled back whole
    ├── RetentionRefused      a retention shorter than the minimum without --force
    ├── UnstorableValue       a value PostgreSQL cannot hold: a NUL character, a date past year 1 or 9999 (422)
    └── BackupFailed          a backup, restore or restore drill failed (success_metrics/storage/backup.py)
"""

from __future__ import annotations


class StorageError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DatabaseUnavailable(StorageError):
    pass


class MigrationFailed(StorageError):
    pass


class RetentionRefused(StorageError):
    pass


class UnstorableValue(StorageError):
    pass


class BackupFailed(StorageError):
    pass
