"""The mask stage: Frame + Grant → the Frame this principal may see, saying which fields were masked.

Each column is judged by its ``field`` (what a policy rule names) and its lineage (the measures it was
derived from, stamped by the catalog; a plain value is its own one origin): a rule naming the column's own
field decides that column; any other value is hidden wherever one of its origins is hidden for the role —
by a hide or bucket rule on the origin's field, or, with no rule, by a sensitivity the role does not see
(deny by default). Rows that carry their own lineage (action items) are left out whole when one of their origins is
hidden. A rule with ``others_only`` spares the rows that are the caller's own (their agent id, or one of
their teams), except for values pooled from every agent's rows. Pseudonyms are a keyed HMAC with a key per
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

from success_metrics.calculators import Column, Frame, Lineage, Origin
from success_metrics.calculators import ColumnType, Kind, Sensitivity
from success_metrics.rbac.errors import Forbidden
from success_metrics.rbac.local_keys import derive_key
from success_metrics.rbac.policy import FieldMasks, Grant, MaskRule, MaskStrategy

# sensitivity of well-known fields, for plain values that arrive without a column (tag values, variables)
KNOWN_FIELDS: tuple[tuple[str, Sensitivity], ...] = (
    ("agent", Sensitivity.PERSONAL), ("agent_id", Sensitivity.PERSONAL), ("agent_name", Sensitivity.PERSONAL),
    ("subject", Sensitivity.PERSONAL), ("contact*", Sensitivity.CONTACT), ("revenue*", Sensitivity.FINANCIAL),
    ("deal_value", Sensitivity.FINANCIAL), ("*cost*", Sensitivity.FINANCIAL), ("roi*", Sensitivity.FINANCIAL),
)
AGENT_FIELDS = ("agent_id", "agent")  # in this order: the column that says whose row it is
TEAM_FIELDS = ("team_id", "team")


def tenant_key(service_secret: bytes, tenant_id: str) -> bytes:
    """The pseudonym key of one tenant, derived from the service secret (success_metrics.rbac.local_keys.service_secret)."""
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


ALL = "all"  # a verdict: hidden in every row; "agent" / "team": hidden but in the caller's own rows; None: shown
Verdict = str | None


def _verdict(origin: Origin, masks: FieldMasks, rule_for: Callable[[str], MaskRule | None] | None = None) -> Verdict:
    """How values derived from ``origin`` are kept from this role. An identity shown pseudonymised or partially
    does not hide what is counted about it; a bucketed figure hides every figure derived from it; an
    others-only rule spares the caller's own rows unless the origin pools every agent's rows."""
    rule = (rule_for or masks.rule_for)(origin.field)
    if rule is None:
        return None if origin.sensitivity in masks.visible else ALL
    if rule.strategy is MaskStrategy.HIDE:
        return rule.others_only if rule.others_only and not origin.pooled else ALL
    return ALL if rule.strategy is MaskStrategy.BUCKET else None


class _Judge:
    """The verdicts of one masking pass, each origin judged once."""

    def __init__(self, masks: FieldMasks) -> None:
        self.masks = masks
        self._seen: dict[Origin, Verdict] = {}
        self._rules: dict[str, MaskRule | None] = {}

    def rule(self, field_name: str) -> MaskRule | None:
        if field_name not in self._rules:
            self._rules[field_name] = self.masks.rule_for(field_name)
        return self._rules[field_name]

    def __call__(self, origin: Origin) -> Verdict:
        if origin not in self._seen:
            self._seen[origin] = _verdict(origin, self.masks, self.rule)
        return self._seen[origin]

    def column(self, column: Column, own: MaskRule | None) -> set[str]:
        """The verdicts hiding this column (``own``: the rule naming its own field, the admin's decision for it;
        only what the column pools from every agent's rows is judged besides: own-row sparing cannot apply)."""
        found = {v for o in _origins(column) if own is None or o.pooled if (v := self(o)) is not None}
        if own is not None and own.strategy is MaskStrategy.HIDE:
            found.add(own.others_only or ALL)
        return found


def _rows(verdicts: set[str], owned: dict[str, tuple[bool, ...]], n: int) -> tuple[bool, ...]:
    """Per row: hidden by these verdicts?"""
    if ALL in verdicts:
        return (True,) * n
    if not verdicts:
        return (False,) * n
    return tuple(any(not owned[v][i] for v in verdicts) for i in range(n))


def _origins(column: Column) -> Lineage:
    """A column's lineage; a plain value outside the catalog is its own one origin (field and sensitivity)."""
    if column.lineage is not None:
        return column.lineage
    return frozenset({Origin(column.field_name, column.field_name, column.sensitivity)})


def _check_aggregate_only(frame: Frame, judge: _Judge) -> None:
    if frame.kind is not Kind.TABLE or frame.row_count <= 1:
        return
    valued = [c for c in frame.columns if c.type is not ColumnType.TIME]
    for name in sorted({c.field_name for c in valued} | {o.field for c in valued for o in _origins(c)}):
        rule = judge.rule(name)
        if rule is not None and rule.strategy is MaskStrategy.AGGREGATE_ONLY:
            raise Forbidden(f"Role {judge.masks.principal.role.value} sees {name!r} only in aggregate; "
                            f"remove the per-row breakdown from this query.")


def apply(frame: Frame, grant: Grant | FieldMasks, key: bytes) -> Frame:
    masks = _masks(grant)
    judge = _Judge(masks)
    n = frame.row_count
    owned = {kind: _owned_rows(frame, masks, kind) for kind in ("agent", "team")}  # before any column changes
    _check_aggregate_only(frame, judge)
    masked: dict[str, str] = {}
    keep = (True,) * n
    if frame.row_lineage:
        # rows whose own lineage the role may not see go whole: no title, text or value of theirs is left
        keep = tuple(not _rows({v for o in row if (v := judge(o)) is not None}, owned, n)[i]
                     for i, row in enumerate(frame.row_lineage))
        for o in frame.lineage or frozenset():
            if judge(o) is not None:  # said whether or not a row went: the notice tells nothing about the data
                masked[o.field] = "rows left out"
    kept: list[Column] = []
    for column in frame.columns:
        if column.type is ColumnType.TIME:
            kept.append(column)
            continue
        name = column.field_name
        rule = judge.rule(name)
        verdicts = judge.column(column, rule)
        if not verdicts and rule is None:  # the common case: shown as it is
            kept.append(column)
            continue
        # an empty frame drops what a row of someone else's would hide, so empty and full answers agree
        hidden = _rows(verdicts, owned, n) if n else _rows(verdicts, {"agent": (False,), "team": (False,)}, 1)
        if all(hidden):
            masked[name] = "hidden"
            continue
        change = (_transform(rule, name, key) if rule is not None and rule.strategy not in
                  (MaskStrategy.HIDE, MaskStrategy.AGGREGATE_ONLY) else None)
        if not n or (change is None and not any(hidden)):
            kept.append(column)
            continue
        spared = owned[rule.others_only] if rule is not None and rule.others_only else (False,) * n
        values = tuple(None if h else v if change is None or own else change(v)
                       for v, h, own in zip(column.values, hidden, spared, strict=True))
        kept.append(column.with_values(values))
        if any(hidden):
            masked[name] = MaskStrategy.HIDE.value
        if change is not None and rule is not None and not all(spared):
            masked[name] = rule.strategy.value
    restricted = any(judge(o) is not None for o in frame.lineage or frozenset())
    if not masked and not restricted and all(keep):
        return frame
    if not all(keep):
        kept = [c.with_values(tuple(v for v, k in zip(c.values, keep, strict=True) if k)) for c in kept]
    notices = frame.notices
    if masked:
        notices = (*notices, f"Masked for role {masks.principal.role.value}: "
                   + ", ".join(f"{f} ({how})" for f, how in sorted(masked.items())))
    return replace(frame, columns=tuple(kept), notices=notices, row_lineage=(),
                   masked_fields=tuple(sorted({*frame.masked_fields, *masked})), meta=_plain_meta(frame.meta))


def _plain_meta(meta: dict[str, Any]) -> dict[str, Any]:
    """A masked frame keeps no number in its meta: a figure there (a total, a ratio) may be a masked value."""
    return {k: v for k, v in meta.items() if isinstance(v, str | bool) or v is None}


def shows(lineage: Lineage, grant: Grant | FieldMasks) -> bool:
    """May a value derived from ``lineage`` (a whole item, nobody's own row) be shown at all? (alert lines)"""
    masks = _masks(grant)
    return all(_verdict(o, masks) is None for o in lineage)


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
