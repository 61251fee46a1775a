"""The mask stage: Frame + Grant → the Frame this principal may see, saying which fields were masked.

Each column is judged by its ``field`` (what a policy rule names) and its ``sensitivity``: a rule naming
the field applies its strategy; a field no rule names is shown only if its sensitivity is one the role
sees unmasked, and hidden otherwise (deny by default). A rule with ``others_only`` spares the rows that
are the caller's own (their agent id, or one of their teams). Pseudonyms are a keyed HMAC with a key per
tenant (``tenant_key``): stable within a tenant, unlinkable across tenants, unguessable without the key.
Masking is per principal and its output is never cached across principals.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import math
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any, assert_never

from calculators.frames import Column, Frame
from calculators.vocabulary import ColumnType, Kind, Sensitivity
from rbac.errors import Forbidden
from rbac.local_keys import derive_key
from rbac.policy import FieldMasks, Grant, MaskRule, MaskStrategy

# sensitivity of well-known fields, for plain values that arrive without a column (tag values, variables)
KNOWN_FIELDS: tuple[tuple[str, Sensitivity], ...] = (
    ("agent", Sensitivity.PERSONAL), ("agent_id", Sensitivity.PERSONAL), ("agent_name", Sensitivity.PERSONAL),
    ("subject", Sensitivity.PERSONAL), ("contact*", Sensitivity.CONTACT), ("revenue*", Sensitivity.FINANCIAL),
    ("deal_value", Sensitivity.FINANCIAL), ("*cost*", Sensitivity.FINANCIAL), ("roi*", Sensitivity.FINANCIAL),
)
AGENT_FIELDS = ("agent_id", "agent")  # in this order: the column that says whose row it is
TEAM_FIELDS = ("team_id", "team")


def tenant_key(service_secret: bytes, tenant_id: str) -> bytes:
    """The pseudonym key of one tenant, derived from the service secret (rbac.local_keys.service_secret)."""
    return derive_key(service_secret, "pseudonym", tenant_id)


def sensitivity_of(field_name: str) -> Sensitivity:
    return next((s for glob, s in KNOWN_FIELDS if fnmatch.fnmatchcase(field_name, glob)), Sensitivity.PUBLIC)


def pseudonym(label: str, value: Any, key: bytes) -> str:
    digest = hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()
    return f"{label} {digest[:6]}"


_PHONE = re.compile(r"^[+()\d\s.-]{6,}$")


def partial(value: Any) -> Any:
    """j***@d***.com, ***-***-1234, J*** S***: enough to recognise, not enough to contact."""
    if value is None:
        return None
    text = str(value)
    if "@" in text:
        local, _, domain = text.partition("@")
        host, dot, tld = domain.rpartition(".")
        return f"{local[:1]}***@{(host or tld)[:1]}***{dot}{tld if host else ''}"
    digits = re.sub(r"\D", "", text)
    if _PHONE.match(text) and len(digits) >= 6:
        return f"***-***-{digits[-4:]}"
    return " ".join(f"{word[:1]}***" for word in text.split()) or "***"


def bucket(value: Any, step: float) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    floored = math.floor(value / step) * step
    return int(floored) if float(step).is_integer() else floored


def _label(rule: MaskRule, field_name: str) -> str:
    return rule.label or field_name.split(".")[-1].replace("_", " ").title()


def _transform(rule: MaskRule, field_name: str, key: bytes) -> Callable[[Any], Any]:
    match rule.strategy:
        case MaskStrategy.HIDE:
            return lambda v: None
        case MaskStrategy.PSEUDONYMISE:
            label = _label(rule, field_name)
            seen: dict[Any, str] = {}  # a column repeats few people many times: one HMAC each

            def alias(v: Any) -> str | None:
                if v is None:
                    return None
                if v not in seen:
                    seen[v] = pseudonym(label, v, key)
                return seen[v]

            return alias
        case MaskStrategy.PARTIAL:
            return partial
        case MaskStrategy.BUCKET:
            step = rule.step or 1.0
            return lambda v: bucket(v, step)
        case MaskStrategy.AGGREGATE_ONLY:
            return lambda v: v
        case _:
            assert_never(rule.strategy)


def _owned_rows(frame: Frame, masks: FieldMasks, kind: str) -> tuple[bool, ...]:
    """Per row: is it the caller's own (agent) or of one of the caller's teams (team)? Unknown → not own."""
    who = masks.principal
    fields = AGENT_FIELDS if kind == "agent" else TEAM_FIELDS

    def own(value: Any) -> bool:
        if value is None:
            return False
        return str(value) == who.agent_id if kind == "agent" else str(value) in who.teams

    for name in fields:
        column = next((c for c in frame.columns if c.field_name == name), None)
        if column is not None:
            return tuple(own(v) for v in column.values)
    whole = frame.meta.get("agent_id" if kind == "agent" else "team")
    return (own(whole),) * frame.row_count


def _masks(grant: Grant | FieldMasks) -> FieldMasks:
    return grant.masks if isinstance(grant, Grant) else grant


def apply(frame: Frame, grant: Grant | FieldMasks, key: bytes) -> Frame:
    masks = _masks(grant)
    owned = {kind: _owned_rows(frame, masks, kind) for kind in ("agent", "team")}  # before any column changes
    kept: list[Column] = []
    masked: dict[str, str] = {}
    for column in frame.columns:
        name = column.field_name
        if column.type is ColumnType.TIME:
            kept.append(column)
            continue
        rule = masks.rule_for(name)
        if rule is None:
            if column.sensitivity in masks.visible:
                kept.append(column)
            else:
                masked[name] = "hidden"
            continue
        if rule.strategy is MaskStrategy.AGGREGATE_ONLY:
            if frame.kind is Kind.TABLE and frame.row_count > 1:
                raise Forbidden(f"Role {masks.principal.role.value} sees {name!r} only in aggregate; "
                                f"remove the per-row breakdown from this query.")
            kept.append(column)
            continue
        spared = owned[rule.others_only] if rule.others_only else (False,) * frame.row_count
        if rule.strategy is MaskStrategy.HIDE and not any(spared):
            masked[name] = "hidden"
            continue
        change = _transform(rule, name, key)
        values = tuple(v if own else change(v) for v, own in zip(column.values, spared, strict=True))
        kept.append(column.with_values(values))
        if not all(spared):
            masked[name] = rule.strategy.value
    if not masked:
        return frame
    notice = (f"Masked for role {masks.principal.role.value}: "
              + ", ".join(f"{f} ({how})" for f, how in sorted(masked.items())))
    return replace(frame, columns=tuple(kept), notices=(*frame.notices, notice),
                   masked_fields=tuple(sorted({*frame.masked_fields, *masked})), meta=_plain_meta(frame.meta))


def _plain_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """A masked frame keeps no number in its meta: a figure there (a total, a ratio) may be a masked value."""
    return {k: v for k, v in meta.items() if isinstance(v, str | bool) or v is None}


def mask_value(field_name: str, value: Any, grant: Grant | FieldMasks, key: bytes,
               sensitivity: Sensitivity | None = None) -> Any:
    """One plain value (annotation text field, variable or tag value); None means the value is hidden."""
    masks = _masks(grant)
    rule = masks.rule_for(field_name)
    if rule is None:
        shown = (sensitivity or sensitivity_of(field_name)) in masks.visible
        return value if shown else None
    if rule.others_only:
        who = masks.principal
        own = str(value) == who.agent_id if rule.others_only == "agent" else str(value) in who.teams
        if own:
            return value
    if rule.strategy is MaskStrategy.AGGREGATE_ONLY:
        return None
    return _transform(rule, field_name, key)(value)
