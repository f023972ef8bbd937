"""How far long work has got, told through a plain callback: the work counts, the command line draws it."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, "int | None"], None]
"""``progress(step, done, total)``: ``done`` items of ``step`` are finished, of ``total`` (None: not known yet).
Called from the working thread (the analysis thread of a poll too): it must be quick and thread-safe."""


def quiet(step: str, done: int, total: int | None) -> None:
    """Progress nobody watches."""
