"""E-mail, the spare channel for critical notices: a send-only SMTP client.

The lower layer only: ``settings`` parses ``SVYAZ_SMTP_URL``/``SVYAZ_MAIL_FROM``/
``SVYAZ_SMTP_CA_FILE``, ``message`` builds one notice's e-mail, ``sender`` sends it and says
how it ended (``EmailSent``). Nothing here knows the escalation ladder, customers or storage:
the runtime decides whom to write and what to do with each outcome.
"""

from connectors.email.address import EmailAddressError, EmailError, Mailbox, parse_address
from connectors.email.message import EmailMessageError, build_message, message_id
from connectors.email.sender import EmailSender, EmailSent, Outcome
from connectors.email.settings import EmailSettings, EmailSettingsError

__all__ = [
    "EmailAddressError", "EmailError", "EmailMessageError", "EmailSender", "EmailSent",
    "EmailSettings", "EmailSettingsError", "Mailbox", "Outcome", "build_message", "message_id",
    "parse_address",
]
