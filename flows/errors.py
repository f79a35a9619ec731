"""The root of svyaz's exception tree; every part derives its errors from ``SvyazError``."""


class SvyazError(Exception):
    """Base of every error svyaz raises on purpose."""
