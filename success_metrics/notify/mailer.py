"""Sending email over SMTP (aiosmtplib), shared by alert notifications and scheduled reports."""

from __future__ import annotations

from email.message import EmailMessage

import aiosmtplib

from success_metrics.settings import Notifications


class Mailer:
    def __init__(self, settings: Notifications) -> None:
        self.settings = settings

    async def send(self, message: EmailMessage) -> None:
        s = self.settings
        if "From" not in message:
            message["From"] = s.mail_from
        await aiosmtplib.send(
            message, hostname=s.smtp_host, port=s.smtp_port, start_tls=s.smtp_starttls,
            username=s.smtp_username, password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            timeout=s.channel_timeout_s,
        )
