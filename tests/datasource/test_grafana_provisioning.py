"""The provisioning files a partner copies: they parse, name the right plugins and uids, and explain themselves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from success_metrics.dashboards import provisioning
from success_metrics.dashboards.query import DATASOURCE_UID

ROOT = Path(__file__).resolve().parents[2]
PROV = ROOT / "grafana-provisioning"


def load(rel: str) -> dict[str, Any]:
    data = yaml.safe_load((PROV / rel).read_text(encoding="utf-8"))
    assert data["apiVersion"] == 1
    return data


def test_json_api_data_source_uses_proxy_access_and_forwards_oauth_identity() -> None:
    [ds] = load("datasources/success-metrics.yaml")["datasources"]
    assert ds["type"] == "simpod-json-datasource"
    assert ds["uid"] == DATASOURCE_UID == "success-metrics"  # the uid every dashboard panel names
    assert ds["access"] == "proxy"
    assert ds["jsonData"]["oauthPassThru"] is True
    assert ds["url"].startswith("https://")


def test_infinity_variant_is_a_backend_source_with_a_service_key_from_the_environment() -> None:
    [ds] = load("datasources/success-metrics-infinity.yaml")["datasources"]
    assert ds["type"] == "yesoreyeram-infinity-datasource"
    assert ds["uid"] == "success-metrics-infinity" != DATASOURCE_UID
    assert ds["jsonData"]["auth_method"] == "bearerToken"
    assert ds["jsonData"]["allowedHosts"] == [ds["url"]]  # Infinity sends the key only there
    # Grafana expands $VAR in provisioning files: the key itself never sits in the file
    assert ds["secureJsonData"]["bearerToken"] == "$SM_SERVICE_KEY"


def test_dashboards_provider_loads_the_dashboard_files_read_only() -> None:
    [prov] = load("dashboards/success-metrics.yaml")["providers"]
    assert prov["type"] == "file"
    assert prov["options"]["path"] == provisioning.DASHBOARDS_PATH
    assert prov["allowUiUpdates"] is False and prov["disableDeletion"] is True
    assert prov["folderUid"] == "success-metrics"


def test_every_file_tells_a_partner_what_to_change() -> None:
    for path in sorted(PROV.rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        comments = [line for line in text.splitlines() if line.lstrip().startswith("#")]
        assert len(comments) >= 5, f"{path.name} needs comments for a partner"
        assert "CHANGE" in text, f"{path.name} must mark what a partner changes"


def test_a_partners_files_carry_its_name_and_address_and_stay_valid_yaml() -> None:
    target = provisioning.Target(name='Acme "Insights": Sales', url="https://sm.acme.example", tenant="acme")
    files = {rel: yaml.safe_load(text) for rel, text in provisioning.render(target).items()}
    [ds] = files["datasources/success-metrics.yaml"]["datasources"]
    assert ds["name"] == 'Acme "Insights": Sales' and ds["url"] == "https://sm.acme.example"
    assert ds["uid"] == DATASOURCE_UID  # the uid stays, so the same dashboards resolve
    [inf] = files["datasources/success-metrics-infinity.yaml"]["datasources"]
    assert inf["jsonData"]["allowedHosts"] == ["https://sm.acme.example"]
    assert "tenant acme" in provisioning.render(target)["datasources/success-metrics-infinity.yaml"]
    assert files["dashboards/success-metrics.yaml"]["providers"][0]["folder"] == 'Acme "Insights": Sales'


async def test_the_infinity_query_documented_in_the_file_answers_with_a_service_key(
    make_client: Any, new_tenant_id: Any, token_for: Any
) -> None:
    """The body the Infinity file tells a partner to use, sent with a service key as Grafana's backend would."""
    from success_metrics.calculators import TenantSettings
    from success_metrics.settings import TenantConfig

    tid = new_tenant_id("infinity")
    client = await make_client(TenantConfig(id=tid, name="Infinity", settings=TenantSettings()))
    made = await client.post("/api/admin/keys", json={"kind": "service", "name": "grafana alerting",
                                                      "role": "executive"},
                             headers={"Authorization": f"Bearer {token_for(tid, 'admin')}"})
    assert made.status_code == 201, made.text
    text = (PROV / "datasources/success-metrics-infinity.yaml").read_text()
    assert provisioning.INFINITY_QUERY_BODY in text
    body = provisioning.INFINITY_QUERY_BODY.replace("${__timeFrom}", "1767225600000") \
        .replace("${__timeTo}", "1772323200000")
    got = await client.post("/query/rows", content=body, headers={
        "Authorization": f"Bearer {made.json()['secret']}", "Content-Type": "application/json"})
    assert got.status_code == 200, got.text
    assert got.json()["refId"] == "A" and got.json()["kind"] == "timeseries"
    wrong = await client.post("/query/rows", content=body, headers={
        "Authorization": "Bearer sm_svc_not-a-real-key", "Content-Type": "application/json"})
    assert wrong.status_code == 401


async def test_each_example_alert_rule_reads_one_number_per_series_with_a_service_key(
    make_client: Any, new_tenant_id: Any, token_for: Any
) -> None:
    """The four families' rules, their queries sent as Infinity's backend sends them (macros replaced by epoch
    ms), answer 200; the declared columns are all the parser keeps: one number (stat) or time/series/value."""
    from success_metrics.calculators import TenantSettings
    from success_metrics.settings import TenantConfig
    from tests.datasource.test_query_rows import infinity_backend

    doc = yaml.safe_load((PROV / "alerting/success-metrics-alerts.yaml").read_text())
    assert {g["rules"][0]["labels"]["family"] for g in doc["groups"]} == {
        "critical", "performance", "business", "maintenance"}
    tid = new_tenant_id("alerts")
    client = await make_client(TenantConfig(id=tid, name="Alerts", settings=TenantSettings()))
    made = await client.post("/api/admin/keys", json={"kind": "service", "name": "grafana alerting",
                                                      "role": "executive"},
                             headers={"Authorization": f"Bearer {token_for(tid, 'admin')}"})
    key = made.json()["secret"]
    for group in doc["groups"]:
        [rule] = group["rules"]
        a = rule["data"][0]
        assert a["datasourceUid"] == "success-metrics-infinity" and rule["condition"] == "C"
        model = a["model"]
        assert (model["parser"], model["url"], model["root_selector"]) == ("backend", "/query/rows", "rows")
        body = model["url_options"]["data"].replace("${__timeFrom}", "1772409600000") \
            .replace("${__timeTo}", "1772496000000")
        got = await client.post(model["url"], content=body, headers={
            "Authorization": f"Bearer {key}", "Content-Type": "application/json"})
        assert got.status_code == 200, (rule["title"], got.text)
        frame = infinity_backend(got.json(), model["root_selector"], model["columns"])
        assert list(frame) == [c["text"] for c in model["columns"]]
        if model["format"] == "table":
            assert list(frame) == ["value"] and len(frame["value"]) == 1, rule["title"]
