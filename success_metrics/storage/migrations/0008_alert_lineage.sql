-- What each alert firing was derived from: the catalog metrics and measures its rule read, written by the evaluator
-- (datasource/alerting/conditions.py collects them). Action items, annotations and reports show a firing's title, summary
-- and value only to roles that may see every one of them. NULL (firings recorded before this column): unknown,
-- so only a role that sees every measure sees them.
ALTER TABLE alert_events ADD COLUMN inputs text[];
