"""Freed large blocks go back to the system, whatever large block the process freed before."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# A 16 MiB block is freed first (glibc then raises its mmap threshold to 16 MiB by default); then 64 blocks of
# 1 MiB, each followed by a small block that stays, are made and freed. Prints the MiB given back.
SCRIPT = """
import ctypes, sys
from tidings.heap import return_freed_memory
if sys.argv[1] == "fixed":
    assert return_freed_memory()
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
def block(size):
    address = libc.malloc(size)
    ctypes.memset(address, 1, size)
    return address
libc.free(block(16 << 20))
blocks, kept = [], []
for _ in range(64):
    blocks.append(block(1 << 20))
    kept.append(block(64))
before = rss()
for address in blocks:
    libc.free(address)
print(before - rss())
"""


def _given_back(mode: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, env=env,
                          timeout=60, check=True)
    return float(done.stdout.split()[-1])


@pytest.mark.skipif(not (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"),
                    reason="the setting is glibc's; resident memory is read from Linux's /proc")
def test_freed_large_blocks_go_back_to_the_system() -> None:
    assert _given_back("default") < 16  # the case the setting is for: glibc keeps the holes
    assert _given_back("fixed") >= 56


def test_elsewhere_the_setting_is_a_no_op_that_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from tidings import heap

    monkeypatch.setattr(heap.sys, "platform", "darwin")
    assert heap.return_freed_memory() is False
