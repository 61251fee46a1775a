"""Who is asking, what they may see, and the record of it. Other packages import only these names.

The stages: ``identity`` (credentials → Principal), ``policy`` (authorize → Grant), ``masking`` (Frame +
Grant → what the principal may see), ``audit`` (the hash-chained record; ``audit_verify`` and
``audit_query`` read it), with ``policy_store`` (versioned policy per tenant), ``keys`` (API keys) and
``dev_issuer`` (local tokens for the demo and tests).
"""

from rbac import audit, audit_query, audit_verify, dev_issuer, identity, keys, masking, policy, policy_store
from rbac.audit import AuditRecord
from rbac.errors import AuditUnavailable, Forbidden, NoRole, PolicyInvalid, RbacError, Unauthenticated
from rbac.identity import Credentials, Identifier
from rbac.identity_config import IdentityProviderConfig
from rbac.policy import FieldMasks, Grant, Policy
from rbac.policy_store import PolicyStore
from rbac.principal import AuthMethod, Principal, Role, role_principal, system_principal

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
