"""CLI commands of rbac that need no database: token and policy validate."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from success_metrics.tools.cli import app
from success_metrics.rbac import Role, Unauthenticated, policy
from success_metrics.rbac.identity import Credentials, Identifier

runner = CliRunner()


async def test_token_prints_a_dev_token_the_service_accepts(tmp_path: Path) -> None:
    env = {"SM_DATA_DIR": str(tmp_path), "SM_CONFIG": ""}
    result = runner.invoke(app, ["token", "--tenant", "acme", "--role", "agent", "--agent-id", "a7",
                                 "--team", "north", "--team", "south"], env=env)
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    identifier = Identifier({}, httpx.AsyncClient(), dev_data_dir=tmp_path)
    who = await identifier.identify(Credentials.from_headers({"authorization": f"Bearer {token}"}), _no_db)
    assert (who.tenant_id, who.role, who.agent_id, who.teams) == ("acme", Role.AGENT, "a7", ("north", "south"))
    with pytest.raises(Unauthenticated):  # the default configuration does not trust the dev issuer
        await Identifier({}, httpx.AsyncClient()).identify(
            Credentials.from_headers({"authorization": f"Bearer {token}"}), _no_db)
    assert "refuse this token" in result.stderr


def test_token_refuses_an_unknown_role(tmp_path: Path) -> None:
    result = runner.invoke(app, ["token", "--tenant", "acme", "--role", "boss"], env={"SM_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2 and "--role must be one of executive" in result.stderr


def test_policy_validate_lists_every_error(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(dict(policy.default_document())))
    assert runner.invoke(app, ["policy", "validate", str(good)]).exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("roles:\n  agent: {metrics: ['*'], sensitivities: [public], row_scope: self, export: maybe}\n"
                   "  intern: {}\n")
    result = runner.invoke(app, ["policy", "validate", str(bad)])
    assert result.exit_code == 1
    assert "2 error(s)" in result.stderr
    assert "/roles/agent/export: 'maybe' is not of type 'boolean'" in result.stderr
    assert "'intern' was unexpected" in result.stderr


def _no_db() -> None:
    raise AssertionError("dev tokens need no database")
