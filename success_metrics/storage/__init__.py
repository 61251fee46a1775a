"""PostgreSQL: the pool and tenant transactions, the embedded server and its supervisor, migrations,
monthly partitions, tenant rows and the settings-change notifications replicas share. Other packages import
only these names.
"""

from success_metrics.storage import (
    backup,
    backup_schedule,
    frame_cache,
    migrate,
    model_files,
    partitions,
    replicas,
    tenants,
)
from success_metrics.storage.embedded import EmbeddedPostgres, embedded_wheel
from success_metrics.storage.errors import (
    BackupFailed,
    DatabaseUnavailable,
    MigrationFailed,
    RetentionRefused,
    StorageError,
    UnstorableValue,
)
from success_metrics.storage.pool import Database
from success_metrics.storage.supervise import Supervisor, backoff_delay

__all__ = [
    "BackupFailed",
    "Database",
    "DatabaseUnavailable",
    "EmbeddedPostgres",
    "MigrationFailed",
    "RetentionRefused",
    "StorageError",
    "Supervisor",
    "UnstorableValue",
    "backoff_delay",
    "backup",
    "backup_schedule",
    "embedded_wheel",
    "frame_cache",
    "migrate",
    "model_files",
    "partitions",
    "replicas",
    "tenants",
]
