"""The query capability: Grafana requests parsed, answered through the one answer path, cached, warmed and serialized."""
