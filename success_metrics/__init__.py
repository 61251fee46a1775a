"""success-metrics: a Grafana data source that computes lead-automation success metrics and masks them per user."""
