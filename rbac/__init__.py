"""Who is asking, what they may see, and the record of it. Other packages import only these names."""

from rbac.errors import AuditUnavailable, Forbidden, NoRole, PolicyInvalid, RbacError, Unauthenticated
from rbac.principal import AuthMethod, Principal, Role

__all__ = [
    "AuditUnavailable",
    "AuthMethod",
    "Forbidden",
    "NoRole",
    "PolicyInvalid",
    "Principal",
    "RbacError",
    "Role",
    "Unauthenticated",
]
