"""Notifications: alert rules and their evaluation, scheduled reports, their channels and the scheduler that runs both."""
