"""Feed addresses without their secrets: private feeds carry credentials in the address itself
(``https://user:pw@host/feed``, ``?private_token=...``, ``/rss/<long random token>``).

``public_url`` is what anonymous readers see: scheme, host and path only, token-like path parts masked.
``redacted_url`` is what the admin sees: the same address with its userinfo removed and every secret-looking
value replaced by ``***``, so the admin can tell the feeds apart without the secrets showing on screen.
Both are pure functions of the text.
"""

from __future__ import annotations

import re
from urllib.parse import SplitResult, unquote, urlsplit

MASK = "***"

SECRET_NAMES = frozenset({
    "token", "key", "secret", "password", "passwd", "pass", "pw", "pwd", "auth", "sig", "signature", "session",
    "sessionid", "sid", "api_key", "apikey", "access_token", "private_token", "credentials",
})
_SECRET_PARTS = ("token", "secret", "passw", "apikey", "api_key", "signature", "credential", "session")
_SECRET_SUFFIXES = ("_key", "_sig", "_pw", "_pass", "_auth", "_hash")
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_\-.~+/=%]+")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_SEPARATORS = re.compile(r"[-_.~%]")


def _is_secret_name(name: str) -> bool:
    key = unquote(name).strip().lower().replace("-", "_")
    return (key in SECRET_NAMES or any(p in key for p in _SECRET_PARTS) or key.endswith(_SECRET_SUFFIXES)
            or key.startswith("auth_"))


def looks_like_token(value: str) -> bool:
    """A long random-looking value: a UUID, or a run of 16 or more letters and digits mixed (hex, base64...), or
    of 24 or more letters in both cases. Words, slugs (``world-news-2024``) and dates are not."""
    text = unquote(value)
    if len(text) < 16 or not _TOKEN_CHARS.fullmatch(text):
        return False
    if _UUID.fullmatch(text):
        return True
    for run in _SEPARATORS.split(text):
        run = run.rstrip("=")
        digits = sum(c.isdigit() for c in run)
        letters = sum(c.isalpha() for c in run)
        if len(run) >= 16 and digits >= 2 and letters >= 2:
            return True
        if len(run) >= 24 and letters == len(run) and run.lower() != run and run.upper() != run:
            return True
    return False


def _parts(url: object) -> SplitResult | None:
    if not isinstance(url, str) or not url.strip():
        return None
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - a bad port raises ValueError
    except ValueError:
        return None
    return parts if parts.scheme and parts.netloc else None


def _host(parts: SplitResult) -> str:
    return parts.netloc.rsplit("@", 1)[-1]


def _path(path: str) -> str:
    return "/".join(MASK if looks_like_token(seg) else seg for seg in path.split("/"))


def _query(query: str) -> str:
    pairs = []
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        if eq and value and (_is_secret_name(name) or looks_like_token(value)):
            pair = f"{name}={MASK}"
        elif not eq and looks_like_token(name):
            pair = MASK
        pairs.append(pair)
    return "&".join(pairs)


def public_url(url: object) -> str:
    """``scheme://host/path`` for anyone to see: no userinfo, query or fragment, token-like path parts masked;
    '' for no URL and ``***`` for text that is no URL at all."""
    parts = _parts(url)
    if parts is None:
        return MASK if isinstance(url, str) and url.strip() else ""
    return f"{parts.scheme}://{_host(parts)}{_path(parts.path)}"


def redacted_url(url: object) -> str:
    """The URL for the admin's eyes: userinfo removed, secret-looking query values and path parts as ``***``,
    no fragment; '' for no URL and ``***`` for text that is no URL at all."""
    parts = _parts(url)
    if parts is None:
        return MASK if isinstance(url, str) and url.strip() else ""
    query = _query(parts.query)
    return f"{parts.scheme}://{_host(parts)}{_path(parts.path)}{'?' + query if query else ''}"


def secrets_in(url: object) -> list[str]:
    """The secret pieces of a URL as they are spelled in it (userinfo, masked values, masked path parts), longest
    first, so text that quotes the URL (an error message) can be scrubbed with ``scrub``."""
    parts = _parts(url)
    if parts is None:
        return []
    found: list[str] = []
    if "@" in parts.netloc:
        found.append(parts.netloc.rsplit("@", 1)[0])
        found.extend(p for p in parts.netloc.rsplit("@", 1)[0].split(":") if p)
    found.extend(seg for seg in parts.path.split("/") if looks_like_token(seg))
    for pair in parts.query.split("&"):
        name, eq, value = pair.partition("=")
        if eq and value and (_is_secret_name(name) or looks_like_token(value)):
            found.append(value)
        elif not eq and looks_like_token(name):
            found.append(name)
    found += [unquote(s) for s in found if unquote(s) != s]
    return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)


def scrub(text: str, url: object, shown: str) -> str:
    """``text`` (an error message that may quote ``url``) with the whole URL replaced by ``shown`` and every
    secret of it by ``***``."""
    if not text or not isinstance(url, str) or not url.strip():
        return text
    text = text.replace(url.strip(), shown)
    for secret in secrets_in(url):
        text = text.replace(secret, MASK)
    return text
