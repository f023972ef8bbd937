"""Who may change things: the admin secret, session keys, CSRF tokens, same-origin checks, a limit on failures.

Reading is public; every write needs the admin secret, sent as a bearer token to the API or typed once into the
login form. The secret lives in a private file beside the database (created on first start) unless
TIDINGS_ADMIN_SECRET is set.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection
from starlette.types import Message, Receive, Scope, Send

from tidings.config import admin_secret_path
from tidings.errors import UserError

ADMIN_SECRET_ENV = "TIDINGS_ADMIN_SECRET"
ALLOWED_ORIGINS_ENV = "TIDINGS_ALLOWED_ORIGINS"  # extra origins for forms, e.g. behind a proxy that rewrites Host
MIN_SECRET_CHARS = 16
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class AdminSecret:
    value: str
    where: str  # the file holding it, the variable that set it, or "this process only"


def load_admin_secret(db_path: str | Path) -> AdminSecret:
    """The secret in effect for a database: TIDINGS_ADMIN_SECRET, else the file beside it (made on first use)."""
    from_env = os.environ.get(ADMIN_SECRET_ENV, "").strip()
    if from_env:
        return AdminSecret(_checked(from_env, ADMIN_SECRET_ENV), ADMIN_SECRET_ENV)
    if str(db_path) == ":memory:":
        return AdminSecret(secrets.token_urlsafe(32), "this process only")
    path = admin_secret_path(db_path)
    return AdminSecret(_read_or_create(path), str(path))


def _checked(value: str, where: str) -> str:
    if len(value) < MIN_SECRET_CHARS:
        raise UserError(f"the admin secret in {where} is too short: use at least {MIN_SECRET_CHARS} characters")
    return value


def _read_or_create(path: Path) -> str:
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            _create(path)
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise UserError(f"cannot use the admin secret file {path}: {exc.strerror or exc}") from None
    return _checked(value, str(path))


def _create(path: Path) -> None:
    """Write a fresh secret to a private (0600) file and link it into place, so nobody reads half a file and
    of two processes starting at once the first one's secret wins."""
    value = secrets.token_urlsafe(32) + "\n"
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".admin-secret-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(value)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            with contextlib.suppress(FileExistsError), \
                    os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as fh:
                fh.write(value)
    finally:
        os.unlink(tmp)


def secret_matches(given: str, secret: str) -> bool:
    """Constant-time comparison; hashing first keeps the secret's length out of the timing too."""
    a = hashlib.sha256(given.encode("utf-8", "replace")).digest()
    b = hashlib.sha256(secret.encode("utf-8", "replace")).digest()
    return hmac.compare_digest(a, b)


def session_key(secret: str) -> str:
    """The cookie-signing key, derived from the admin secret: a new secret ends every session."""
    return hmac.new(secret.encode("utf-8"), b"tidings session cookie v1", hashlib.sha256).hexdigest()


# -- sessions and CSRF -----------------------------------------------------------------------------------


class Sessions(SessionMiddleware):
    """Starlette's signed-cookie sessions, with the cookie marked ``Secure`` whenever the site is reached over
    https: always when constructed with ``https_only`` (TIDINGS_BASE_URL is https), else per request when it
    arrived over https (the scope's scheme, which the server takes from X-Forwarded-Proto only for trusted
    proxies). A browser then never sends the admin's session over plain http."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("scheme") != "https" or "; secure" in self.security_flags:
            await super().__call__(scope, receive, send)
            return

        async def secure_cookies(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [(k, _secure(v) if k.lower() == b"set-cookie" else v)
                                      for k, v in message.get("headers", [])]
            await send(message)

        await super().__call__(scope, receive, secure_cookies)


def _secure(cookie: bytes) -> bytes:
    attributes = [a.strip().lower() for a in cookie.split(b";")[1:]]
    return cookie if b"secure" in attributes else cookie + b"; secure"


Session = MutableMapping[str, Any]


def is_admin(session: Session) -> bool:
    return session.get("admin") is True


def csrf_token(session: Session) -> str:
    """This session's form token, made on first use."""
    token = session.get("csrf")
    if not isinstance(token, str) or len(token) < 32:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_ok(session: Session, submitted: object) -> bool:
    expected = session.get("csrf")
    if not isinstance(expected, str) or not expected or not isinstance(submitted, str):
        return False
    return hmac.compare_digest(expected.encode("utf-8"), submitted.encode("utf-8", "replace"))


def log_in(session: Session) -> None:
    """A fresh session on login: nothing set before it (a planted token included) carries over."""
    session.clear()
    session["admin"] = True
    csrf_token(session)


def flash(session: Session, kind: str, text: str) -> None:
    """A message for the next admin page; short, because the session is a cookie."""
    messages = list(session.get("flash") or [])[-4:]
    messages.append([kind, text if len(text) <= 400 else text[:399] + "…"])
    session["flash"] = messages


def take_flashes(session: Session) -> list[dict[str, str]]:
    messages = session.pop("flash", None) or []
    return [{"kind": str(m[0]), "text": str(m[1])} for m in messages if isinstance(m, list) and len(m) == 2]


def safe_next(value: object, default: str = "/admin") -> str:
    """A place on this site to go after login: a local path, never another host ('//evil', '/\\evil')."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return default
    return value


# -- same origin -----------------------------------------------------------------------------------------

_DEFAULT_PORTS = {"http": "80", "https": "443"}


def _host(netloc: str, scheme: str) -> str:
    host = netloc.lower().rsplit("@", 1)[-1]
    default = _DEFAULT_PORTS.get(scheme)
    return host[: -len(default) - 1] if default and host.endswith(":" + default) else host


def same_origin(conn: HTTPConnection) -> bool:
    """Whether a browser says this request comes from a page of this site: its Origin (else Referer) names the
    host the request was sent to, or one listed in TIDINGS_ALLOWED_ORIGINS. Neither header sent: True, and the
    CSRF token decides. Only the host is compared, so a proxy that ends TLS in front of Tidings still works."""
    claimed = conn.headers.get("origin") or conn.headers.get("referer")
    if claimed is None:
        return True
    try:
        parts = urlsplit(claimed.strip())
    except ValueError:
        return False
    if parts.scheme not in _DEFAULT_PORTS or not parts.netloc:
        return False  # "null" (sandboxed frames, privacy redirects), file:, other schemes
    host = _host(parts.netloc, parts.scheme)
    if host == _host(conn.url.netloc, conn.url.scheme):
        return True
    extra = [o.strip() for o in os.environ.get(ALLOWED_ORIGINS_ENV, "").split(",") if o.strip()]
    return any(host == _host(urlsplit(o).netloc, urlsplit(o).scheme) for o in extra)


def client_key(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else "unknown"


# -- failed attempts -------------------------------------------------------------------------------------


class FailureLimiter:
    """At most ``limit`` failed attempts per client in any ``window`` seconds. While a client is over the limit
    its attempts are refused unchecked, so guessing gets no answer at all."""

    def __init__(self, limit: int = 10, window: float = 60.0, *, max_clients: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit, self.window, self.max_clients, self.clock = limit, window, max_clients, clock
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._fails.get(client, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def wait(self, client: str) -> float:
        """Seconds until this client may try again; 0 when it may try now."""
        with self._lock:
            now = self.clock()
            times = self._recent(client, now)
            return max(0.0, times[0] + self.window - now) if len(times) >= self.limit else 0.0

    def fail(self, client: str) -> None:
        with self._lock:
            now = self.clock()
            times = self._recent(client, now)
            times.append(now)
            self._fails[client] = times
            if len(self._fails) > self.max_clients:
                self._forget(now)

    def _forget(self, now: float) -> None:
        """Keep memory bounded: drop clients with no recent failure, then the oldest ones."""
        for key in [k for k, v in self._fails.items() if not v or v[-1] <= now - self.window]:
            del self._fails[key]
        while len(self._fails) > self.max_clients:
            del self._fails[next(iter(self._fails))]
