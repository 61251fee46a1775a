"""Who is asking, what they may see, and the record of it. Other packages import only these names.

The stages: ``identity`` (credentials → Principal), ``policy`` (authorize → Grant), ``masking`` (Frame +
Grant → what the principal may see), ``audit`` (the hash-chained record; ``audit_verify`` and
``audit_query`` read it), with ``policy_store`` (versioned policy per tenant), ``keys`` (API keys) and
``dev_issuer`` (local tokens for the demo and tests).
"""

from success_metrics.rbac import (
    audit,
    audit_query,
    audit_verify,
    changes,
    dev_issuer,
    identity,
    keys,
    local_keys,
    masking,
    policy,
    policy_store,
)
from success_metrics.rbac.audit import AuditRecord
from success_metrics.rbac.audit_query import AuditFilter
from success_metrics.rbac.changes import What
from success_metrics.rbac.errors import (
    AuditUnavailable,
    Forbidden,
    NoRole,
    PolicyInvalid,
    RbacError,
    Unauthenticated,
)
from success_metrics.rbac.identity import Credentials, Identifier, parse_providers
from success_metrics.rbac.identity_config import IdentityProviderConfig
from success_metrics.rbac.jwks import JwksCache, ProviderUnavailable
from success_metrics.rbac.local_keys import read_or_create, service_secret
from success_metrics.rbac.policy import FieldMasks, Grant, Policy
from success_metrics.rbac.policy_store import PolicyStore, PolicyVersion
from success_metrics.rbac.principal import AuthMethod, Principal, Role, system_principal

__all__ = [
    "AuditFilter",
    "AuditRecord",
    "AuditUnavailable",
    "AuthMethod",
    "Credentials",
    "FieldMasks",
    "Forbidden",
    "Grant",
    "Identifier",
    "IdentityProviderConfig",
    "JwksCache",
    "NoRole",
    "Policy",
    "PolicyInvalid",
    "PolicyStore",
    "PolicyVersion",
    "Principal",
    "ProviderUnavailable",
    "RbacError",
    "Role",
    "Unauthenticated",
    "What",
    "audit",
    "audit_query",
    "audit_verify",
    "changes",
    "dev_issuer",
    "identity",
    "keys",
    "local_keys",
    "masking",
    "parse_providers",
    "policy",
    "policy_store",
    "read_or_create",
    "service_secret",
    "system_principal",
]
