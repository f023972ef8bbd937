"""How the process's C heap hands freed memory back to the system.

glibc serves a large block (numpy arrays, ONNX Runtime's buffers, a page's parse tree) with its own mapping, given
back the moment it is freed, until a large block is freed: then it raises that threshold to the block's size (up
to 32 MiB), and later blocks of that size come from the heap, where freed memory mostly stays with the process.
A long poll frees such blocks all the time, so its resident size ratchets up to what it once held at the same
moment plus what fragmentation keeps. A fixed threshold keeps the first behaviour: a 5,000-page poll peaks about
140 MiB lower (docs/performance.md, "Memory: freed buffers go back to the system").
"""

from __future__ import annotations

import contextlib
import sys

MMAP_THRESHOLD = 256 * 1024  # bytes; blocks this large or larger get a mapping of their own
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h


def return_freed_memory() -> bool:
    """Fix glibc's mmap threshold (no effect elsewhere: other C libraries, macOS, Windows). True if it was set."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes
    import platform

    if platform.libc_ver()[0] != "glibc":
        return False
    with contextlib.suppress(OSError, AttributeError):
        return bool(ctypes.CDLL("libc.so.6").mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    return False
