"""Plain-text helpers every layer shares."""

from __future__ import annotations

import re
from typing import Any

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]+")


def one_line(text: Any) -> str:
    """A title or name on one clean line: control characters (feeds do carry them) and runs of space removed."""
    return " ".join(_CONTROL.sub(" ", str(text or "")).split())
