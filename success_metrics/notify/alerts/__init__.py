"""Alert rules, their evaluation on a schedule, and notifications (webhook, Slack-compatible, email).

Tables other stages read: ``alert_events`` (one row per firing episode: rule_id, family, severity, state
firing|resolved, started_at, resolved_at, title, summary) for annotations and action items.
"""
