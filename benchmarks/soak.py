"""A long run of receives, kills, merges and hostile files: python benchmarks/soak.py --minutes 5

Rounds until the time is up. Each round takes a fresh workspace through a random sequence of
`xxgk receive` (the sample mail, hostile workbooks, or both) and `xxgk merge`, each either left alone,
SIGKILLed at a random moment, or killed at a named step (XXGK_FAULT_AT). Then a plain receive and
merge finish the work, and the invariants are checked against a workspace that received the same
inputs undisturbed:

- the ledger passes SQLite's integrity check and every archived file matches its hash;
- every input is archived exactly once (the same set of files as the undisturbed run, one archive
  file per ledger row);
- every office's state is the undisturbed run's, and every current version can be read back;
- nothing is owed: no row pending, every feedback file as recorded, every answered row has its draft,
  no temporary file left behind;
- the rollup and its CSV are whole and agree.

Exit status 1 when an invariant broke (the round and the reason are printed).
"""

from __future__ import annotations

import argparse
import csv
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
sys.path.insert(0, str(ROOT / "tests" / "corpus"))
sys.path.insert(0, str(ROOT / "tests"))

from helpers import figure_findings  # noqa: E402
from make_corpus import build  # noqa: E402

from pipeline.reader import read_submission  # noqa: E402
from pipeline.samples import write_sample_mail  # noqa: E402
from pipeline.status import workspace_status  # noqa: E402
from pipeline.workspace import init_workspace, open_workspace  # noqa: E402

RECEIVE_STEPS = ["archived", "recorded", "checked", "feedback", "status", "reply", "compared", "reannotated"]
MERGE_STEPS = ["rollup-written"]
# Hostile workbooks from the corpus: bombs, unsafe XML, too many cells, encrypted, broken, injected.
HOSTILE = ["zip_bomb.xlsx", "billion_laughs.xlsx", "too_many_cells.xlsx", "encrypted.xlsx", "truncated.xlsx",
           "injection.xlsx", "odd_numbers.xlsx", "control_chars.xlsx", "many_sheets.xlsx", "csv_renamed.xlsx"]


class Broken(Exception):
    pass


def xxgk(*args: str, env: dict[str, str] | None = None, kill_after: float | None = None) -> int:
    """Run one command; with ``kill_after``, SIGKILL it after that many seconds if it is still running."""
    import os

    proc = subprocess.Popen([sys.executable, "-m", "pipeline", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})})
    if kill_after is not None:
        try:
            proc.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
    return proc.wait()


def require(ok: bool, what: str) -> None:
    if not ok:
        raise Broken(what)


def ledger_sound(path: Path) -> set[str]:
    """Integrity, hashes, one archive file per ledger row; returns the archived hashes."""
    conn = sqlite3.connect(path / "ledger.sqlite")
    try:
        require(conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "ledger integrity")
        shas = set()
        for sha, archived in conn.execute("SELECT sha256, archive_path FROM files"):
            require(hashlib.sha256((path / archived).read_bytes()).hexdigest() == sha, f"archive {archived}")
            shas.add(sha)
        require(conn.execute("SELECT COUNT(*) FROM submissions s LEFT JOIN files f USING(sha256)"
                             " WHERE f.sha256 IS NULL").fetchone()[0] == 0, "a submission without its file")
    finally:
        conn.close()
    on_disk = [p for p in (path / "archive").rglob("*") if p.is_file()]
    require(len(on_disk) == len(shas), f"{len(on_disk)} archive files for {len(shas)} ledger rows")
    return shas


def nothing_owed(path: Path) -> None:
    conn = sqlite3.connect(path / "ledger.sqlite")
    conn.row_factory = sqlite3.Row
    try:
        owed = conn.execute("SELECT COUNT(*) FROM submissions WHERE status='pending' OR feedback_pending=1"
                            " OR reply_pending=1").fetchone()[0]
        require(owed == 0, f"{owed} rows still owed")
        for row in conn.execute("SELECT id, feedback_path, feedback_sha256 FROM submissions"
                                " WHERE feedback_path IS NOT NULL"):
            data = (path / row["feedback_path"]).read_bytes()
            require(hashlib.sha256(data).hexdigest() == row["feedback_sha256"], f"feedback of row {row['id']}")
        unanswered = conn.execute(
            "SELECT COUNT(*) FROM submissions s WHERE status IN ('ok','warnings','errors','unusable','held')"
            " AND duplicate_of IS NULL AND sender IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM outgoing g WHERE g.submission_id=s.id)"
        ).fetchone()[0]
        require(unanswered == 0, f"{unanswered} rows without a reply draft")
        for row in conn.execute("SELECT path FROM outgoing"):
            require((path / row["path"]).exists(), f"draft {row['path']} missing")
    finally:
        conn.close()
    for office in workspace_status(open_workspace(path)).offices:
        current = office["current"]
        if current:
            data = next((path / "archive").rglob(current["sha256"] + ".*")).read_bytes()
            sub = read_submission(Path(current["filename"]), data)
            require(sub.workbook is not None, f"current version {current['filename']} unreadable")
    left = [p for p in path.rglob(".*.tmp*")]
    require(not left, f"temporary files left: {left[:3]}")


def rollup_whole(out: Path, offices: int) -> None:
    from pipeline.check import check_paths

    result = check_paths([out]).files[0]
    wrong = figure_findings(result)  # its texts are the coordinator's to write after merging
    require(result.submission is not None and not wrong, f"rollup: {[f.code for f in wrong]}")
    with open(out.with_suffix(".csv"), encoding="utf-8") as f:
        require(len(list(csv.reader(f))) == 1 + offices, "rollup CSV rows")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="xxgk-soak-"))
    mail = tmp / "mail"
    write_sample_mail(mail)
    corpus = tmp / "corpus"
    build(corpus)
    hostile = tmp / "hostile"
    hostile.mkdir()
    for name in HOSTILE:
        (hostile / name).write_bytes((corpus / name).read_bytes())
    roster = ROOT / "samples" / "roster.csv"
    offices = sum(1 for _ in open(roster, encoding="utf-8")) - 1

    def fresh(name: str):
        return init_workspace(tmp / name, roster, 2025, "2026-01-31", name="测试县")

    ref = fresh("reference")
    started = time.monotonic()
    for source in (mail, hostile):
        require(xxgk("receive", str(ref.path), str(source)) == 0, "undisturbed receive")
    duration = time.monotonic() - started
    expected_state = workspace_status(open_workspace(ref.path)).comparable()
    expected_files = ledger_sound(ref.path)

    rng = random.Random(args.seed)
    deadline = time.monotonic() + args.minutes * 60
    rounds = kills = bad = 0
    while time.monotonic() < deadline:
        rounds += 1
        ws = fresh(f"ws{rounds}")
        out = tmp / f"out{rounds}" / "全县汇总.xlsx"
        done = []
        try:
            for _ in range(rng.randint(2, 5)):
                how = rng.choice(["whole", "time", "step"])
                if rng.random() < 0.75:
                    sources = rng.choice([[mail], [hostile], [mail, hostile]])
                    env = {"XXGK_FAULT_AT": f"{rng.choice(RECEIVE_STEPS)}:{rng.randint(1, 4)}"} if how == "step" else None
                    code = xxgk("receive", str(ws.path), *map(str, sources), env=env,
                                kill_after=rng.uniform(0.05, 1.0) * duration if how == "time" else None)
                    done.append(f"receive/{how}")
                else:
                    env = {"XXGK_FAULT_AT": rng.choice(MERGE_STEPS)} if how == "step" else None
                    code = xxgk("merge", str(ws.path), "-o", str(out), env=env,
                                kill_after=rng.uniform(0.2, 4.0) if how == "time" else None)
                    done.append(f"merge/{how}")
                kills += code == -signal.SIGKILL
                # Between runs, whatever a kill left: the ledger is sound (an archived file may await its row).
                conn = sqlite3.connect(ws.path / "ledger.sqlite")
                require(conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", "ledger integrity mid-way")
                conn.close()
            require(xxgk("receive", str(ws.path), str(mail), str(hostile)) == 0, "final receive failed")
            require(ledger_sound(ws.path) == expected_files, "archived files differ from the undisturbed run")
            nothing_owed(ws.path)
            require(workspace_status(open_workspace(ws.path)).comparable() == expected_state, "office states differ")
            require(xxgk("merge", str(ws.path), "-o", str(out)) == 0, "final merge failed")
            rollup_whole(out, offices)
        except (Broken, OSError, sqlite3.Error) as exc:
            bad += 1
            print(f"round {rounds} ({', '.join(done)}): {exc}", file=sys.stderr)
    print(f"{rounds} rounds in {args.minutes:g} min, {kills} runs killed part-way, {bad} rounds with an invariant "
          f"broken (seed {args.seed})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
