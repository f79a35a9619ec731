"""The spare channels for critical notices: the SMS provider and the e-mail sender, from settings.

This module owns the step from the ``SVYAZ_SMS_*``, ``SVYAZ_SMTP_*`` and ``SVYAZ_MAIL_FROM``
settings to a configured ``connectors.sms`` provider and ``connectors.email`` sender, and the
cross-checks of those settings (``bots.config.problems`` lists them with the rest, so a
mistake stops ``svyaz run`` with a sentence, not a stack trace). It sends nothing and decides
nothing about when to send: the escalation ladder does (issue 14). It must not log a
credential: they stay ``SecretStr`` until the constructor that needs them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bots.config import is_http_url, url_problem
from connectors.email import EmailSender, EmailSettings, EmailSettingsError
from connectors.sms.base import SmsProvider
from flows.messages import Msg, msg

if TYPE_CHECKING:
    from bots.config import Settings


@dataclass(frozen=True, slots=True)
class Spare:
    """What the settings turned on: an SMS provider and an e-mail sender, each or neither."""

    sms: SmsProvider | None = None
    email: EmailSender | None = None
    sms_daily_limit: int = 3  # per customer and day
    sms_monthly_budget: int | None = None  # messages per month for the whole bot; None: none

    def health(self) -> dict[str, object]:
        """For ``/healthz``: what is configured (no request is made to the providers)."""
        return {"sms": self.sms.name if self.sms else None, "email": self.email is not None}

    async def close(self) -> None:
        if self.sms is not None:
            await self.sms.close()


def spare_problems(s: Settings) -> list[Msg]:
    """Every missing or contradictory spare-channel setting, one sentence each."""
    return [*_sms_problems(s), *_email_problems(s)]


def _sms_problems(s: Settings) -> list[Msg]:
    found: list[Msg] = []
    if s.sms_provider == "smsru" and s.sms_api_id is None:
        found.append(msg("settings.smsru_needs_id"))
    if s.sms_provider == "smsc" and (s.smsc_login is None or s.smsc_password is None):
        found.append(msg("settings.smsc_needs_login"))
    given = [name for name, value in (("SVYAZ_SMS_API_ID", s.sms_api_id),
                                      ("SVYAZ_SMSC_LOGIN", s.smsc_login),
                                      ("SVYAZ_SMSC_PASSWORD", s.smsc_password),
                                      ("SVYAZ_SMS_SENDER", s.sms_sender)) if value is not None]
    if given and s.sms_provider is None:
        found.append(msg("settings.sms_no_provider", name=given[0]))
    if s.sms_api_url is not None and not is_http_url(s.sms_api_url):
        found.append(url_problem("SVYAZ_SMS_API_URL", s.sms_api_url))
    return found


def _email_problems(s: Settings) -> list[Msg]:
    if s.smtp_url is None:
        return [msg("settings.mail_no_smtp")] if s.mail_from else []
    if not s.mail_from:
        return [msg("settings.smtp_no_mail")]
    try:
        _email_settings(s)
    except EmailSettingsError as exc:
        return [exc.said or msg("settings.email", detail=exc)]
    return []


def make_spare(s: Settings) -> Spare:
    """The configured senders (after ``spare_problems`` found nothing)."""
    return Spare(sms=_sms(s), email=EmailSender(_email_settings(s)) if s.smtp_url else None,
                 sms_daily_limit=s.sms_daily_limit, sms_monthly_budget=s.sms_monthly_budget)


def _sms(s: Settings) -> SmsProvider | None:
    if s.sms_provider == "smsru" and s.sms_api_id is not None:
        from connectors.sms.smsru import DEFAULT_URL as SMSRU_URL
        from connectors.sms.smsru import SmsRu

        return SmsRu(api_id=s.sms_api_id.get_secret_value(), sender=s.sms_sender,
                     base_url=s.sms_api_url or SMSRU_URL)
    if s.sms_provider == "smsc" and s.smsc_login and s.smsc_password is not None:
        from connectors.sms.smsc import DEFAULT_URL as SMSC_URL
        from connectors.sms.smsc import Smsc

        return Smsc(login=s.smsc_login, password=s.smsc_password.get_secret_value(),
                    sender=s.sms_sender, base_url=s.sms_api_url or SMSC_URL)
    return None


def _email_settings(s: Settings) -> EmailSettings:
    if s.smtp_url is None or not s.mail_from:
        raise EmailSettingsError("SVYAZ_SMTP_URL and SVYAZ_MAIL_FROM are both needed")
    return EmailSettings.from_url(s.smtp_url.get_secret_value(), mail_from=s.mail_from,
                                  ca_file=s.smtp_ca_file)
