"""Errors of the rbac package; their HTTP status is decided in success_metrics/server/problems.py.

    RbacError
    ├── Unauthenticated      no credentials, or a credential failed a check (401)
    ├── NoRole               a valid identity that maps to no role (403)
    ├── Forbidden            the role may not do this (403)
    ├── PolicyInvalid        a policy document failed its JSON Schema (422; carries every error)
    └── AuditUnavailable     the audit record could not be written, so nothing is served (503)
"""

from __future__ import annotations


class RbacError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Unauthenticated(RbacError):
    """``tenant_id`` is the tenant the credential claimed, when one could be told, so the failure is audited there."""

    def __init__(self, message: str, tenant_id: str | None = None) -> None:
        super().__init__(message)
        self.tenant_id = tenant_id


class NoRole(RbacError):
    """A verified person of ``tenant_id`` (``subject``) whose groups map to no role."""

    def __init__(self, message: str, tenant_id: str | None = None, subject: str | None = None) -> None:
        super().__init__(message)
        self.tenant_id = tenant_id
        self.subject = subject


class Forbidden(RbacError):
    pass


class PolicyInvalid(RbacError):
    def __init__(self, message: str, errors: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.errors = errors


class AuditUnavailable(RbacError):
    pass
