"""Masking by lineage, on hand-built frames under the default policy: a value goes where every measure it came from
may go; a rule naming a column's own field decides that column; pooled figures spare no row; rows with their own
lineage go whole, and the notice says so whether or not a row went."""

from __future__ import annotations

from typing import Any

from success_metrics.calculators import MEASURES, Column, ColumnType, Frame, Kind, Lineage
from success_metrics.calculators.frames import Origin
from success_metrics.rbac import AuthMethod, Principal, Role, masking, policy

KEY = b"k" * 32


def origins(*names: str, pooled: bool = False) -> Lineage:
    return frozenset(Origin(n, MEASURES[n].field, MEASURES[n].sensitivity, pooled) for n in names)


def masks(role: Role, **kw: Any) -> policy.FieldMasks:
    who = Principal(tenant_id="t", subject="s", role=role, auth_method=AuthMethod.DEV, **kw)
    return policy.field_masks(who, policy.default_policy())


AGENT = masks(Role.AGENT, agent_id="a1", teams=("t1",))


def table(*columns: Column, rows: tuple[Lineage, ...] = (), lineage: Lineage | None = None) -> Frame:
    return Frame("x", Kind.TABLE, columns, row_lineage=rows, lineage=lineage)


def test_a_derived_column_without_a_rule_of_its_own_goes_where_its_measures_go() -> None:
    share = Column("share", ColumnType.NUMBER, (58.8,), lineage=origins("deal_revenue", "lead_funnel"))
    count = Column("deals", ColumnType.NUMBER, (3,), lineage=origins("lead_funnel"))
    frame = table(share, count, lineage=origins("deal_revenue", "lead_funnel"))
    seen = masking.apply(frame, AGENT, KEY)
    assert [c.name for c in seen.columns] == ["deals"] and seen.meta == {}
    assert seen.notices == ("Masked for role agent: share (hidden)",)
    assert masking.apply(frame, masks(Role.EXECUTIVE), KEY).columns == frame.columns


def test_an_identity_shown_pseudonymised_does_not_hide_what_is_counted_about_it() -> None:
    agents = Column("agent", ColumnType.STRING, ("a1", "a2"), field="agent", lineage=origins("agent_identity"))
    leads = Column("leads", ColumnType.NUMBER, (2, 5), lineage=origins("agent_identity", "leads"))
    seen = masking.apply(table(agents, leads), AGENT, KEY)
    assert seen.column("agent").values == ("a1", masking.pseudonym("Agent", "a2", KEY))
    assert seen.column("leads").values == (2, 5)
    auditor = masking.apply(table(agents, leads), masks(Role.AUDITOR), KEY)
    assert auditor.columns == ()  # personal data: neither who nor what is counted about them


def test_own_rows_are_spared_unless_the_figure_pools_every_agents_rows() -> None:
    agents = Column("agent_id", ColumnType.STRING, ("a1", "a2"), field="agent_id", lineage=origins("agent_identity"))
    revenue = Column("revenue", ColumnType.NUMBER, (3000.0, 400.0), field="revenue", lineage=origins("deal_revenue"))
    score = Column("efficiency_score", ColumnType.NUMBER, (77.2, 40.1),
                   lineage=origins("leads") | origins("deal_revenue", pooled=True))
    seen = masking.apply(table(agents, revenue, score), AGENT, KEY)
    assert seen.column("revenue").values == (3000.0, None)
    assert "efficiency_score" not in [c.name for c in seen.columns]


def test_rows_with_their_own_lineage_go_whole_and_the_notice_does_not_tell_whether_any_did() -> None:
    item = Column("item", ColumnType.STRING, ("hours item", "revenue item"))
    rows = (origins("automated_tasks"), origins("deal_revenue", "money_targets"))
    whole = origins("automated_tasks", "deal_revenue", "money_targets")
    seen = masking.apply(table(item, rows=rows, lineage=whole), AGENT, KEY)
    assert seen.column("item").values == ("hours item",)
    only_hours = masking.apply(table(Column("item", ColumnType.STRING, ("hours item",)), rows=rows[:1],
                                     lineage=whole), AGENT, KEY)
    assert only_hours.notices == seen.notices == (
        "Masked for role agent: revenue (rows left out), revenue_target (rows left out)",)


def test_a_rule_naming_the_columns_own_field_decides_it() -> None:
    rules = policy.parse({"roles": {"manager": {
        "metrics": ["*"], "sensitivities": ["public", "financial"], "visible": ["public"], "row_scope": "tenant",
        "masks": [{"field": "deal_value", "strategy": "bucket", "step": 1000}]}}})
    manager = policy.field_masks(Principal(tenant_id="t", subject="m", role=Role.MANAGER,
                                           auth_method=AuthMethod.DEV), rules)
    value = Column("revenue", ColumnType.NUMBER, (2400.0,), field="deal_value", lineage=origins("deal_revenue"))
    share = Column("share", ColumnType.NUMBER, (58.8,), lineage=origins("deal_revenue"))
    seen = masking.apply(table(value, share), manager, KEY)
    assert [(c.name, c.values) for c in seen.columns] == [("revenue", (2000,))]


def test_shows_judges_a_whole_item_as_nobodys_own() -> None:
    assert masking.shows(origins("component_calls"), AGENT)
    assert not masking.shows(origins("deal_revenue"), AGENT)  # others-only: an alert is nobody's own row
    assert not masking.shows(origins("access_records"), masks(Role.MANAGER))
    assert masking.shows(origins("access_records"), masks(Role.AUDITOR))
