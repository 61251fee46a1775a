"""Who is asking, what they may see, and the record of it. Other packages import only these names.

The stages: ``identity`` (credentials → Principal), ``policy`` (authorize → Grant), ``masking`` (Frame +
Grant → what the principal may see), ``audit`` (the hash-chained record; ``audit_verify`` and
``audit_query`` read it), with ``policy_store`` (versioned policy per tenant), ``keys`` (API keys) and
``dev_issuer`` (local tokens for the demo and tests).
"""

from success_metrics.rbac import audit, audit_query, audit_verify, dev_issuer, identity, keys, masking, policy, policy_store
from success_metrics.rbac.audit import AuditRecord
from success_metrics.rbac.errors import AuditUnavailable, Forbidden, NoRole, PolicyInvalid, RbacError, Unauthenticated
from success_metrics.rbac.identity import Credentials, Identifier
from success_metrics.rbac.identity_config import IdentityProviderConfig
from success_metrics.rbac.policy import FieldMasks, Grant, Policy
from success_metrics.rbac.policy_store import PolicyStore
from success_metrics.rbac.principal import AuthMethod, Principal, Role, role_principal, system_principal

__all__ = [
    "AuditRecord",
    "AuditUnavailable",
    "AuthMethod",
    "Credentials",
    "FieldMasks",
    "Forbidden",
    "Grant",
    "Identifier",
    "IdentityProviderConfig",
    "NoRole",
    "Policy",
    "PolicyInvalid",
    "PolicyStore",
    "Principal",
    "RbacError",
    "Role",
    "Unauthenticated",
    "audit",
    "audit_query",
    "audit_verify",
    "dev_issuer",
    "identity",
    "keys",
    "masking",
    "policy",
    "policy_store",
    "role_principal",
    "system_principal",
]
