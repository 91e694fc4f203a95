"""A time and memory budget for the work on one file.

A hostile or pathological workbook (150,000 cells sharing a long formula, a million styles) must
not stall a batch or a mailbox for minutes or take the machine's memory: the reading, checking and
annotating of one file run under :func:`budget`, and past it the file gets the finding
"文件过于复杂，无法处理" while the batch moves on.

Time is a wall-clock alarm (SIGALRM, so the main thread of a process: the command line and each
worker of a batch); memory is an address-space limit above what the process already uses (Linux).
Where neither exists (Windows, a thread) the block runs unbounded.
"""

from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from typing import Iterator

DEFAULT_SECONDS = 20.0
DEFAULT_MEMORY_MB = 1024


class BudgetExceeded(BaseException):
    """The work on one file went past its budget; ``kind`` is "time" or "memory".

    A BaseException, like KeyboardInterrupt: the broad ``except Exception`` of the code it interrupts must not
    swallow it and carry on."""

    def __init__(self, kind: str):
        super().__init__(kind)
        self.kind = kind

    @property
    def detail(self) -> str:
        return "处理超时" if self.kind == "time" else "占用内存过多"


def _address_space() -> int | None:
    """The process's current virtual size in bytes (Linux), or None."""
    try:
        with open(f"/proc/{os.getpid()}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


@contextmanager
def budget(seconds: float | None = DEFAULT_SECONDS, memory_mb: float | None = DEFAULT_MEMORY_MB) -> Iterator[None]:
    """Run the block within ``seconds`` of wall time and ``memory_mb`` more memory, or raise BudgetExceeded."""
    timed = bool(seconds) and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    limit = None
    try:
        import resource

        base = _address_space() if memory_mb else None
        if base is not None:
            limit = resource.getrlimit(resource.RLIMIT_AS)
            hard = limit[1]
            soft = base + int(memory_mb * 1024 * 1024)
            if hard != resource.RLIM_INFINITY:
                soft = min(soft, hard)
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    except (ImportError, ValueError, OSError):
        limit = None
    previous = None
    if timed:
        def expired(signum, frame):
            raise BudgetExceeded("time")

        previous = signal.signal(signal.SIGALRM, expired)
        # Again every half second once expired: code that catches everything (a bare except in a library)
        # can swallow one alarm, and the work would then run unbounded.
        signal.setitimer(signal.ITIMER_REAL, float(seconds), 0.5)
    try:
        yield
    except MemoryError:
        raise BudgetExceeded("memory") from None
    finally:
        if timed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        if limit is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, limit)
