"""From county to province at scale: python benchmarks/bench_scale.py --offices 10000 --levels county,city,province

Generates N office workbooks with distinct content (consistent random figures and each office's own
texts, two processes; kept in --workdir for the next run), then times the commands a coordinator runs,
each in its own process, as CPU time (user + system, with its worker processes), wall time and peak memory:

- county:   init with a roster of the N offices, receive of the N files, status, merge
- city:     init with a roster of the county (单位类型 汇总), receive of its rollup, status, merge
- province: the same with the city's rollup
- check:    `xxgk check` of the N files (JSON lines out), and its start-up on one file

and, in the same run, the floors: python-calamine reading every sheet's values of the same files, and a
bare XlsxWriter (constant_memory) writing the rollup's per-office cells. The targets of issue 15 are
printed beside the figures.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

KINDS = ["县直部门", "乡镇", "街道"]


def _make(args: tuple[str, int, int]) -> None:
    folder, first, last = args
    from pipeline import Filling, get_spec, write_workbook
    from pipeline.fill import consistent_prose, consistent_values

    spec = get_spec("2021")
    for i in range(first, last):
        rng = random.Random(i)
        kind = KINDS[i % 3]
        values = consistent_values(spec, rng, office_kind=kind)
        office = {"name": f"测试单位{i:06d}", "kind": kind, "code": f"B{i:06d}", "year": 2025, "filler": "张三",
                  "phone": "0000-1234567", "date": "2026-01-10"}
        prose = consistent_prose(spec, values, 2025, office["name"], i)
        # consistent_prose has a dozen ways of putting things; each office adds its own words, so that
        # no two offices' texts are alike (the 雷同 rule would flag them, and re-answer the earlier one).
        own = lambda k: "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(k))  # noqa: E731
        prose = {k: f"{v}{own(3 * len(v))}。" for k, v in prose.items()}
        write_workbook(spec, Path(folder) / f"B{i:06d}.xlsx", Filling(office=office, values=values, prose=prose))


def generate(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    have = {p.name for p in folder.glob("B*.xlsx")}
    todo = [i for i in range(n) if f"B{i:06d}.xlsx" not in have]
    if todo:
        step = 100
        chunks = [(str(folder), a, min(a + step, n)) for a in range(todo[0], n, step)]
        started = time.monotonic()
        with ProcessPoolExecutor(os.cpu_count() or 2) as pool:
            list(pool.map(_make, chunks))
        print(f"generated {len(todo)} workbooks in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return [folder / f"B{i:06d}.xlsx" for i in range(n)]


def run(*args: str, stdout=None) -> tuple[float, float, float]:
    """Run one command to completion: (CPU s with its children, wall s, peak MB)."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", *args], stdout=stdout or subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)} failed: {proc.stderr.read().decode()[-2000:]}")
    return usage.ru_utime + usage.ru_stime, wall, usage.ru_maxrss / 1024


def in_child(code: str) -> tuple[float, float, float]:
    """Run Python code in a fresh process: (CPU s, wall s, peak MB)."""
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("floor measurement failed")
    return usage.ru_utime + usage.ru_stime, time.monotonic() - started, usage.ru_maxrss / 1024


CALAMINE = """
import sys
from python_calamine import CalamineWorkbook
for path in open(sys.argv[1] if len(sys.argv) > 1 else {files!r}, encoding="utf-8").read().split():
    wb = CalamineWorkbook.from_path(path)
    for name in wb.sheet_names:
        wb.get_sheet_by_name(name).to_python()
"""

XLSXWRITER = """
import random, xlsxwriter
wb = xlsxwriter.Workbook({out!r}, {{"constant_memory": True}})
ws = wb.add_worksheet()
rng = random.Random(1)
row = [rng.randint(0, 50) for _ in range({cols})]
for r in range({rows}):
    ws.write_string(r, 0, "B%06d" % r)
    for c, v in enumerate(row, start=1):
        ws.write_number(r, c, v)
wb.close()
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--offices", type=int, default=1000)
    ap.add_argument("--levels", default="county,city,province")
    ap.add_argument("--workdir", type=Path, default=None, help="where the generated workbooks are kept")
    args = ap.parse_args()
    n = args.offices
    work = args.workdir or Path(tempfile.gettempdir()) / f"xxgk-scale-{n}"
    files = generate(work / "offices", n)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=work))
    from pipeline import get_spec

    spec = get_spec("2021")
    rows: list[tuple[str, float, float, float, str]] = []

    def phase(name: str, measured: tuple[float, float, float], target: str = "") -> None:
        rows.append((name, *measured, target))
        print(f"{name:<34} CPU {measured[0]:8.2f} s  wall {measured[1]:8.2f} s  peak {measured[2]:7.0f} MB  {target}",
              file=sys.stderr)

    levels = args.levels.split(",")
    source: list[Path] = [work / "offices"]
    roster = "单位代码,单位名称,单位类型,联系邮箱\n" + "".join(
        f"B{i:06d},测试单位{i:06d},{KINDS[i % 3]},b{i:06d}@x.example\n" for i in range(n))
    names = {"county": ("测试县", "XC"), "city": ("测试市", "XS"), "province": ("测试省", "XP")}
    for level in levels:
        name, code = names[level]
        ws = run_dir / f"ws-{level}"
        (run_dir / f"{level}.csv").write_text(roster, encoding="utf-8")
        run("init", str(ws), "--roster", str(run_dir / f"{level}.csv"), "--year", "2025", "--name", name,
            "--code", code, "--level", level, "--deadline", "2026-12-31")
        received = run("receive", str(ws), *map(str, source), "--quiet")
        count = n if level == levels[0] else 1
        phase(f"{level}: receive {count} files", received,
              f"{received[0] / count * 1000:.1f} ms CPU/file (target: <15 ms + the check)")
        status = run("status", str(ws), "--json")
        phase(f"{level}: status", status, "(target at 10,000 offices: <1 s)")
        out = run_dir / f"{name}汇总.xlsx"
        merged = run("merge", str(ws), "-o", str(out), "--include-warnings", "--include-errors")
        phase(f"{level}: merge", merged, "(target at 10,000: <20 s, <300 MB; at 1,000: <2 s)")
        source = [out]
        roster = f"单位代码,单位名称,单位类型,联系邮箱\n{code},{name},汇总,{code.lower()}@x.example\n"

    listing = run_dir / "files.txt"
    listing.write_text("\n".join(map(str, files)), encoding="utf-8")
    with open(run_dir / "check.jsonl", "wb") as out:
        checked = run("check", str(work / "offices"), "--json", stdout=out)
    phase(f"check {n} files (--json)", checked, f"{checked[0] / n * 1000:.1f} ms CPU/file")
    one = run("check", str(files[0]))
    phase("check start-up (one file)", one, "(target: start-up <0.3 s)")
    calamine = in_child(CALAMINE.format(files=str(listing)))
    phase(f"floor: calamine read {n} files", calamine,
          f"{calamine[0] / n * 1000:.1f} ms CPU/file; check/calamine = {checked[0] / calamine[0]:.1f}× (target ≤4×)")
    bare = in_child(XLSXWRITER.format(out=str(run_dir / "bare.xlsx"), rows=n, cols=len(spec.figures)))
    phase(f"floor: bare XlsxWriter {n}×{len(spec.figures)}", bare,
          f"county merge/bare = {rows[2][1] / bare[0]:.1f}× CPU" if "county" in levels else "")
    print(f"\n{n} offices, {os.cpu_count()} cores; workbooks in {work / 'offices'}; run in {run_dir}")
    for r in rows:
        print(f"| {r[0]} | {r[1]:.2f} | {r[2]:.2f} | {r[3]:.0f} | {r[4]} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
