"""The files a partner copies into Grafana's ``provisioning/`` folder, rendered with comments.

One template per file; the committed ``grafana-provisioning/`` is the rendering with the defaults, and
``success-metrics dashboards export`` renders the same templates with the partner's name and URL.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from success_metrics.dashboards import infinity
from success_metrics.dashboards.alert_rules import alert_rules
from success_metrics.dashboards.query import DATASOURCE_UID, PLUGIN_ID

INFINITY_PLUGIN_ID = infinity.PLUGIN_ID
INFINITY_UID = infinity.DATASOURCE_UID
FOLDER_UID = "success-metrics"
PLACEHOLDER_URL = "https://success-metrics.example.com"
DASHBOARDS_PATH = "/var/lib/grafana/dashboards/success-metrics"
# what an Infinity query posts to /query/rows; Infinity's backend fills in the range macros
INFINITY_QUERY_BODY = infinity.body("A", "revenue.monthly_trend")


@dataclass(frozen=True)
class Target:
    """Where the partner's Grafana finds the service, and what to call things there."""

    name: str = "Success Metrics"
    url: str = PLACEHOLDER_URL
    tenant: str | None = None


def _q(value: str) -> str:
    """A YAML scalar that is always a string (JSON strings are valid YAML)."""
    return json.dumps(value)


def json_api_datasource(t: Target) -> str:
    return f"""\
# Grafana data source: success-metrics through the JSON API plugin.
#
# 1. Install the plugin:  grafana-cli plugins install {PLUGIN_ID}
#    (or, in Docker:      GF_INSTALL_PLUGINS={PLUGIN_ID})
# 2. Copy this file to    <grafana>/provisioning/datasources/
# 3. Change `url` to where success-metrics is served, then restart Grafana.
#
# Identity: "Forward OAuth Identity" (oauthPassThru) sends each viewer's SSO access token as
# `Authorization: Bearer` and the ID token as `X-ID-Token`. The service checks the token against your
# tenant's identity provider (issuer, audience, JWKS) and shows each viewer only what their role may
# see. Grafana must itself log users in with that provider ([auth.generic_oauth] or similar), and the
# tokens' audience must be the one configured for your tenant in success-metrics.
apiVersion: 1

datasources:
  - name: {_q(t.name)}
    type: {PLUGIN_ID}
    # The dashboards name this uid; keep it, or they will not find their data source.
    uid: {DATASOURCE_UID}
    # proxy: Grafana's server calls the service, so tokens never pass through the browser
    access: proxy
    # CHANGE: the address of success-metrics as Grafana's server reaches it
    url: {_q(t.url)}
    isDefault: false
    editable: false
    jsonData:
      # Forward OAuth Identity: on. Without it every query is answered 401.
      oauthPassThru: true
      # seconds; a whole dashboard normally answers well within 2 s
      timeout: 30
"""


def infinity_datasource(t: Target) -> str:
    tenant = t.tenant or "<your tenant id>"
    return f"""\
# Grafana data source: success-metrics through the Infinity plugin, as a backend data source with a
# per-tenant service key. Use it where a viewer's identity cannot be forwarded: Grafana alerting,
# reporting and scheduled exports run without a signed-in user.
#
# 1. Install the plugin:  grafana-cli plugins install {INFINITY_PLUGIN_ID}
# 2. Ask an admin of success-metrics for a service key of tenant {tenant!s}, with the role the key
#    should act as (a key is tied to one tenant and one role; "executive" or "auditor" are typical).
# 3. Give it to Grafana in the environment as SM_SERVICE_KEY (never write the key into this file),
#    copy this file to <grafana>/provisioning/datasources/, change both URLs, restart Grafana.
#
# Queries: type JSON, parser Backend, method POST, URL {infinity.ROWS_PATH}, root selector "rows", body (with the
# metric you want as target):
#   {INFINITY_QUERY_BODY}
# A time series answers long rows: declare the columns time (Time, UNIX ms), series (String) and value
# (Number) and choose format "Time series". The dashboards of dashboards/infinity/ and the alert rules of
# alerting/ are written that way. "Save & test" asks GET / with the key: it fails when the key is refused.
apiVersion: 1

datasources:
  - name: {_q(t.name + " (service key)")}
    type: {INFINITY_PLUGIN_ID}
    uid: {INFINITY_UID}
    # backend: queries run on Grafana's server, so alert rules can use them
    access: proxy
    # CHANGE: the address of success-metrics
    url: {_q(t.url)}
    editable: false
    jsonData:
      auth_method: bearerToken
      # Infinity sends the key only to these hosts. CHANGE with `url`.
      allowedHosts:
        - {_q(t.url)}
      timeoutInSeconds: 30
      # Save & test calls GET / with the key, which answers 401 unless the key is valid
      customHealthCheckEnabled: true
      customHealthCheckUrl: {_q(t.url.rstrip("/") + "/")}
    secureJsonData:
      # the per-tenant service key, read from Grafana's environment at start
      bearerToken: $SM_SERVICE_KEY
"""


def dashboards_provider(t: Target) -> str:
    return f"""\
# Grafana dashboards provider: loads the success-metrics dashboards from files.
#
# 1. Copy the JSON files of dashboards/ to the folder named by `path` below (CHANGE it if you keep
#    them elsewhere; in Docker, mount that folder).
# 2. Copy this file to <grafana>/provisioning/dashboards/ and restart Grafana.
#
# The dashboards query the data source with uid "{DATASOURCE_UID}" (see datasources/). They are
# read-only in Grafana: to change one, change the generator and run `success-metrics dashboards export`.
apiVersion: 1

providers:
  - name: success-metrics
    orgId: 1
    type: file
    folder: {_q(t.name)}
    folderUid: {FOLDER_UID}
    disableDeletion: true
    allowUiUpdates: false
    # seconds between checks of the folder for changed files
    updateIntervalSeconds: 60
    options:
      path: {_q(DASHBOARDS_PATH)}
      foldersFromFilesStructure: false
"""


def infinity_dashboards_provider(t: Target) -> str:
    return f"""\
# Grafana dashboards provider: the Infinity variant of the success-metrics dashboards (dashboards/infinity/),
# whose queries run on Grafana's server (public dashboards, reporting) with the service key.
#
# 1. Copy the JSON files of dashboards/infinity/ to the folder named by `path` below (CHANGE it if you keep
#    them elsewhere).
# 2. Copy this file to <grafana>/provisioning/dashboards/ and restart Grafana.
apiVersion: 1

providers:
  - name: success-metrics-infinity
    orgId: 1
    type: file
    folder: {_q(t.name + " (Infinity)")}
    folderUid: {FOLDER_UID}-infinity
    disableDeletion: true
    allowUiUpdates: false
    updateIntervalSeconds: 60
    options:
      path: {_q(DASHBOARDS_PATH + "-infinity")}
      foldersFromFilesStructure: false
"""


def render(t: Target) -> Mapping[str, str]:
    """Relative path under ``grafana-provisioning/`` → file text."""
    return {
        "datasources/success-metrics.yaml": json_api_datasource(t),
        "datasources/success-metrics-infinity.yaml": infinity_datasource(t),
        "dashboards/success-metrics.yaml": dashboards_provider(t),
        "dashboards/success-metrics-infinity.yaml": infinity_dashboards_provider(t),
        "alerting/success-metrics-alerts.yaml": alert_rules(t.name + " (Infinity)"),
    }
