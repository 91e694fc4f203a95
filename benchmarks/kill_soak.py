"""Kill `xxgk receive` at random moments, many times: python benchmarks/kill_soak.py --runs 100

Each run starts on a fresh workspace, is SIGKILLed at a random moment, and is then
re-run to completion; the archive, the ledger and the status must match a clean run.
"""

import argparse
import hashlib
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.samples import write_sample_mail  # noqa: E402
from pipeline.status import workspace_status  # noqa: E402
from pipeline.workspace import init_workspace, open_workspace  # noqa: E402


def consistent(path: Path) -> None:
    conn = sqlite3.connect(path / "ledger.sqlite")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for sha, archived in conn.execute("SELECT sha256, archive_path FROM files"):
            assert hashlib.sha256((path / archived).read_bytes()).hexdigest() == sha
        assert conn.execute("SELECT COUNT(*) FROM submissions s LEFT JOIN files f USING(sha256)"
                            " WHERE f.sha256 IS NULL").fetchone()[0] == 0
    finally:
        conn.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="xxgk-soak-"))
    mail = tmp / "mail"
    write_sample_mail(mail)
    roster = ROOT / "samples" / "roster.csv"
    ref = init_workspace(tmp / "ref", roster, 2025, "2026-01-31", name="测试县")
    subprocess.run([sys.executable, "-m", "pipeline", "receive", str(ref.path), str(mail)], check=True,
                   capture_output=True)
    expected = workspace_status(ref).comparable()
    rng = random.Random(args.seed)
    kills = bad = 0
    for run in range(args.runs):
        ws = init_workspace(tmp / f"ws{run}", roster, 2025, "2026-01-31", name="测试县")
        proc = subprocess.Popen([sys.executable, "-m", "pipeline", "receive", str(ws.path), str(mail)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 3.0))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        try:
            consistent(ws.path)
            subprocess.run([sys.executable, "-m", "pipeline", "receive", str(ws.path), str(mail)], check=True,
                           capture_output=True)
            consistent(ws.path)
            assert workspace_status(open_workspace(ws.path)).comparable() == expected
        except (AssertionError, subprocess.CalledProcessError) as exc:
            bad += 1
            print(f"run {run}: {exc!r}", file=sys.stderr)
    print(f"{args.runs} runs, {kills} killed part-way, {bad} inconsistent (seed {args.seed})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
