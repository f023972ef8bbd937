"""Errors a person can act on: their message is shown as is, without a traceback."""


class UserError(Exception):
    """Bad input from the person using Tidings (a URL that is no feed, an unreadable file...)."""


class NotFound(LookupError):
    """The request names an article, story, source, section or page that does not exist."""
