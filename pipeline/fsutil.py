"""File-system helpers: outputs appear whole or not at all."""

from __future__ import annotations

import glob
import os
import re
import signal
import tempfile
import unicodedata
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .textutil import visible_text


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target`` in one step.

    A crash or exception leaves ``target`` as it was and removes the temporary file.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    # The writer's pid in the name: a later run removes what a killed one left (remove_stale_temporaries).
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


SUFFIX = ".校验结果.xlsx"  # the feedback copy of a workbook


def annotated_name(path: Path) -> str:
    """The feedback copy's file name: ``原名.校验结果.xlsx``."""
    return path.stem + SUFFIX


def atomic_write_bytes(target: str | Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: str | Path, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


_UNSAFE = re.compile(r'[\x00-\x1f\x7f\\/:*?"<>|]')


def safe_filename(name: str | None, fallback: str = "附件") -> str:
    """A bare, harmless file name: no folders (../, absolute paths), no control characters."""
    name, _ = visible_text(unicodedata.normalize("NFC", name or ""))  # bidi overrides and other invisibles
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    if not name:
        name = fallback
    if len(name.encode("utf-8")) > 180:
        stem, dot, ext = name.rpartition(".")
        keep = stem if dot else name
        while len((keep + dot + ext).encode("utf-8")) > 180:
            keep = keep[:-1]
        name = keep + dot + ext if dot else keep
    return name


_TEMPORARY = re.compile(r"^\..+\.(\d+)\.[^.]+\.tmp(?:\.raw)?$")


def process_alive(pid: int) -> bool:
    """Whether a process of this machine is running (its pid may be another's by now: callers know)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, another user's
        return True
    return True


def remove_stale_temporaries(folders: list[Path], age_seconds: float = 3600, of: str | None = None) -> int:
    """Remove the temporary files of writers that were killed (atomic writes clean up after themselves
    otherwise): ours, named with a pid that is no longer running, or, named the old way, older than an hour.
    Returns how many were removed.

    :param of: only the temporaries of this file name, in the folders themselves (a folder that is not
        ours, such as the one a rollup is written to, is not searched through).
    """
    import time

    cutoff = time.time() - age_seconds
    removed = 0
    for folder in folders:
        if not folder.is_dir():
            continue
        found = folder.glob(f".{glob.escape(of)}.*.tmp*") if of else folder.rglob(".*.tmp*")
        for tmp in found:
            if not tmp.name.endswith((".tmp", ".tmp.raw")):
                continue
            m = _TEMPORARY.match(tmp.name)
            try:
                age = tmp.stat().st_mtime
                # (A day-old one whatever its pid says: the pid may have been reused since.)
                if (m and not process_alive(int(m.group(1)))) or age < (cutoff if not m else cutoff - 23 * 3600):
                    tmp.unlink()
                    removed += 1
            except OSError:
                pass
    return removed


def fault_point(step: str) -> None:
    """Fault injection for the kill tests: XXGK_FAULT_AT=step[:n] kills this process the n-th time it reaches
    ``step``, as a power cut would. Steps of receive: archived, recorded, checked, feedback, status, reply,
    compared, reannotated; of merge: rollup-written."""
    want = os.environ.get("XXGK_FAULT_AT")
    if not want:
        return
    name, _, nth = want.partition(":")
    if name != step:
        return
    _FAULT_COUNTS[step] = _FAULT_COUNTS.get(step, 0) + 1
    if _FAULT_COUNTS[step] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


_FAULT_COUNTS: dict[str, int] = {}
