"""Keep and block rules of a source: regular expressions on an item's headline and text.

An item that matches a block rule is not stored; when a source has keep rules, only an item that matches one of
them is. A feed item is judged on what the feed gives (headline, summary, text), before any page of it is
fetched; an imported line on its headline, summary and text. Case does not matter.

Patterns are RE2's (Google's regular expressions, the syntax Go and so Miniflux use). RE2 matches in time linear
in the text whatever the pattern, so no pattern an operator types, however unlucky (``(a+)+$``), can hold up a
poll, and no timeout has to decide an item half-way; it has no backreferences or lookarounds, which keep and
block rules do not need. A pattern is checked once when it is set (``pattern_error``); a stored pattern that no
longer compiles is left out with a warning rather than stopping the poll.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

MAX_PATTERN = 300    # characters of one pattern
MAX_RULES = 50       # patterns in one list (keep or block)
MAX_PROGRAM = 1 << 20  # bytes RE2 may use for one compiled pattern (a bounded repetition can blow up)
BLOCKED = "blocked by rule"
NOT_KEPT = "no keep rule matched"


def split_rules(stored: str | None) -> list[str]:
    """The patterns of a stored list: one a line."""
    return [line for line in (stored or "").split("\n") if line.strip()]


def _compile(pattern: str) -> Any:
    import re2  # lazily: only sources with rules need it

    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    options.max_mem = MAX_PROGRAM
    return re2.compile(pattern, options=options)


def pattern_error(pattern: str) -> str | None:
    """Why ``pattern`` cannot be a rule, in words for a person; None when it can."""
    import re2

    if len(pattern) > MAX_PATTERN:
        return f"longer than {MAX_PATTERN} characters"
    if any(ch in pattern for ch in "\r\n\x00"):
        return "a pattern is one line"
    try:
        _compile(pattern)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else ""
        text = reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)
        return f"not a regular expression RE2 takes ({text or 'invalid'})"
    return None


@dataclass
class Rules:
    """A source's compiled rules; ``verdict`` says why an item is left out, or None when it is stored."""

    keep: list[Any] = field(default_factory=list)
    block: list[Any] = field(default_factory=list)

    @classmethod
    def of(cls, source: dict[str, Any]) -> Rules:
        return cls(_compiled(split_rules(source.get("keep_rules")), source.get("id")),
                   _compiled(split_rules(source.get("block_rules")), source.get("id")))

    def __bool__(self) -> bool:
        return bool(self.keep or self.block)

    def verdict(self, *texts: str) -> str | None:
        if any(p.search(t) for p in self.block for t in texts if t):
            return BLOCKED
        if self.keep and not any(p.search(t) for p in self.keep for t in texts if t):
            return NOT_KEPT
        return None


def _compiled(patterns: Iterable[str], source_id: object) -> list[Any]:
    out = []
    for pattern in patterns:
        try:
            out.append(_compile(pattern))
        except Exception as exc:  # set before a change of RE2, say: the other rules still apply
            log.warning("source %s: rule %r left out: %s", source_id, pattern, exc)
    return out
