"""Masking on frames shaped like the catalog's (success_metrics.calculators.shapes), each expectation worked out by hand."""

from __future__ import annotations

from typing import Any

import pytest

from success_metrics.calculators import shapes
from success_metrics.calculators.frames import Frame
from success_metrics.calculators.vocabulary import ColumnType, Sensitivity, TenantId
from success_metrics.rbac import AuthMethod, Forbidden, Principal, Role, masking, policy

SECRET = b"s" * 32
KEY = masking.tenant_key(SECRET, "acme")
COLS = [shapes.AGENT_ID, shapes.AGENT, shapes.TEAM, shapes.money("revenue"),
        shapes.Col("contact.email", ColumnType.STRING, sensitivity=Sensitivity.CONTACT, field="contact.email"),
        shapes.num("leads")]
ROWS = [("a1", "Ann Lee", "north", 1000.0, "ann@client.com", 4),
        ("a2", "Bob Ray", "north", 2000.0, "bob@client.org", 5),
        ("a3", "Cy Fox", "south", 3000.0, "cy@corp.net", 6)]


def frame() -> Frame:
    return shapes.table("agents.scorecard", COLS, ROWS)


def who(role: Role, **kw: Any) -> Principal:
    return Principal(TenantId("acme"), "u", role, AuthMethod.JWT, **kw)


def masked(role: Role, **kw: Any) -> Frame:
    return masking.apply(frame(), policy.field_masks(who(role, **kw), policy.default_policy()), KEY)


def col(f: Frame, name: str) -> tuple[Any, ...]:
    return f.column(name).values


def alias(value: str) -> str:
    return masking.pseudonym("Agent", value, KEY)


def test_partial_bucket_and_pseudonym_helpers() -> None:
    assert masking.partial("john.smith@doe.com") == "j***@d***.com"
    assert masking.partial("+1 (555) 123-4567") == "***-***-4567"
    assert masking.partial("Jane Doe") == "J*** D***"
    assert masking.partial(None) is None
    assert masking.bucket(1234.56, 100) == 1200  # floor(12.3456) * 100
    assert masking.bucket(-5, 10) == -10  # floor(-0.5) * 10: down, never up
    assert masking.bucket(7.3, 0.5) == 7.0
    assert masking.bucket("n/a", 10) is None
    a, b = masking.pseudonym("Agent", "a1", KEY), masking.pseudonym("Agent", "a1", masking.tenant_key(SECRET, "globex"))
    assert a == masking.pseudonym("Agent", "a1", KEY) and a != b  # stable in a tenant, different across tenants
    assert a.startswith("Agent ") and len(a) == len("Agent ") + 6 and "a1" not in a


def test_admin_sees_everything_unchanged() -> None:
    assert masked(Role.ADMIN) == frame()


def test_executive_sees_contact_data_partially() -> None:
    f = masked(Role.EXECUTIVE)
    assert col(f, "contact.email") == ("a***@c***.com", "b***@c***.org", "c***@c***.net")
    assert col(f, "agent") == ("Ann Lee", "Bob Ray", "Cy Fox") and col(f, "revenue") == (1000.0, 2000.0, 3000.0)
    assert f.masked_fields == ("contact.email",)
    assert f.notices == ("Masked for role executive: contact.email (partial)",)


def test_agent_sees_own_row_and_others_pseudonymised_without_revenue() -> None:
    f = masked(Role.AGENT, agent_id="a2")
    assert col(f, "agent_id") == (alias("a1"), "a2", alias("a3"))
    assert col(f, "agent") == (alias("Ann Lee"), "Bob Ray", alias("Cy Fox"))
    assert col(f, "revenue") == (None, 2000.0, None)
    assert col(f, "contact.email") == ("a***@c***.com", "bob@client.org", "c***@c***.net")
    assert col(f, "leads") == (4, 5, 6) and col(f, "team") == ("north", "north", "south")
    assert f.masked_fields == ("agent", "agent_id", "contact.email", "revenue")


def test_agent_without_an_agent_id_owns_no_row() -> None:
    f = masked(Role.AGENT)
    assert "revenue" not in [c.name for c in f.columns]  # hidden on every row: the column goes
    assert "a1" not in col(f, "agent_id")


def test_manager_pseudonymises_other_teams_agents() -> None:
    f = masked(Role.MANAGER, teams=("north",))
    assert col(f, "agent") == ("Ann Lee", "Bob Ray", alias("Cy Fox"))
    assert col(f, "agent_id") == ("a1", "a2", alias("a3"))
    assert col(f, "revenue") == (1000.0, 2000.0, 3000.0)


def test_auditor_sees_no_business_values() -> None:
    f = masked(Role.AUDITOR)
    assert [c.name for c in f.columns] == ["team", "leads"]  # personal, financial and contact columns dropped
    assert f.masked_fields == ("agent", "agent_id", "contact.email", "revenue")


def test_a_sensitive_field_no_rule_names_is_hidden_by_default() -> None:
    ssn = shapes.table("x", [shapes.Col("ssn", ColumnType.STRING, sensitivity=Sensitivity.CONTACT), shapes.num("n")],
                       [("123-45-6789", 1)])
    f = masking.apply(ssn, policy.field_masks(who(Role.EXECUTIVE), policy.default_policy()), KEY)
    assert [c.name for c in f.columns] == ["n"] and f.masked_fields == ("ssn",)


def test_bucket_and_aggregate_only_rules() -> None:
    rules = policy.parse({"roles": {"manager": {
        "metrics": ["*"], "sensitivities": ["public", "financial", "personal"], "row_scope": "tenant",
        "visible": ["public", "personal"],
        "masks": [{"field": "revenue", "strategy": "bucket", "step": 500},
                  {"field": "contact.*", "strategy": "aggregate-only"}]}}})
    masks = policy.field_masks(who(Role.MANAGER), rules)
    with pytest.raises(Forbidden, match="sees 'contact.email' only in aggregate"):
        masking.apply(frame(), masks, KEY)
    one = shapes.table("t", COLS, ROWS[2:])
    f = masking.apply(one, masks, KEY)
    assert col(f, "revenue") == (3000,) and col(f, "contact.email") == ("cy@corp.net",)
    two = shapes.table("t", COLS[:4], ROWS[:2])
    assert col(masking.apply(two, masks, KEY), "revenue") == (1000, 2000)  # 1000 → 2·500, 2000 → 4·500
    odd = shapes.table("t", COLS[:4], [("a1", "A", "n", 1499.99)])
    assert col(masking.apply(odd, masks, KEY), "revenue") == (1000,)  # floor(2.99998) · 500


def test_time_series_columns_are_masked_by_their_field() -> None:
    from datetime import UTC, datetime

    t = [datetime(2026, 1, d, tzinfo=UTC) for d in (1, 2)]
    ts = shapes.series("revenue.monthly_trend", t, {"Revenue": {t[0]: 10.0, t[1]: 20.0}}, None,
                       sensitivity=Sensitivity.FINANCIAL, field="revenue")
    assert masking.apply(ts, policy.field_masks(who(Role.EXECUTIVE), policy.default_policy()), KEY) == ts
    hidden = masking.apply(ts, policy.field_masks(who(Role.AUDITOR), policy.default_policy()), KEY)
    assert [c.name for c in hidden.columns] == ["time"] and hidden.masked_fields == ("revenue",)


def test_mask_value_for_tag_values_and_variables() -> None:
    rules = policy.default_policy()
    agent = policy.field_masks(who(Role.AGENT, agent_id="a1"), rules)
    assert masking.mask_value("agent_id", "a1", agent, KEY) == "a1"
    assert masking.mask_value("agent_id", "a2", agent, KEY) == alias("a2")
    assert masking.mask_value("source", "referral", agent, KEY) == "referral"
    auditor = policy.field_masks(who(Role.AUDITOR), rules)
    assert masking.mask_value("agent", "Ann Lee", auditor, KEY) is None  # personal, not visible to auditors
    assert masking.mask_value("contact.phone", "555-123-4567", auditor, KEY) is None
    executive = policy.field_masks(who(Role.EXECUTIVE), rules)
    assert masking.mask_value("contact.phone", "555-123-4567", executive, KEY) == "***-***-4567"


def test_a_masked_frame_keeps_no_figures_in_its_meta() -> None:
    from datetime import UTC, datetime

    t = [datetime(2026, 1, 1, tzinfo=UTC)]
    ts = shapes.series("revenue.attributed", t, {"revenue": {t[0]: 5000.0}}, None, sensitivity=Sensitivity.FINANCIAL,
                       field="revenue", meta={"total_revenue": 5000.0, "deals": 3, "note": "weights 90/50/25"})
    hidden = masking.apply(ts, policy.field_masks(who(Role.AUDITOR), policy.default_policy()), KEY)
    assert hidden.meta == {"unit": None, "note": "weights 90/50/25"}
    assert masking.apply(ts, policy.field_masks(who(Role.EXECUTIVE), policy.default_policy()), KEY).meta == ts.meta
