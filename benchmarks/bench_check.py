"""Province-scale benchmark: check, annotate and merge N workbooks, against a plain openpyxl load.

    python benchmarks/bench_check.py --n 1000
    python benchmarks/bench_check.py --n 10000 --skip-merge

Generates N filled workbooks from the real template (consistent figures, a fifth with
typical mistakes; saved with cached values as Excel saves them, and a share re-saved
by LibreOffice when it is installed), then measures each phase in its own process:

- check:    ``check_paths`` over all N (both cores), the library call behind ``xxgk check``
- openpyxl: ``openpyxl.load_workbook`` of each file, one process (the baseline)
- annotate: check plus an annotated feedback workbook per file
- receive:  ``xxgk receive`` of the N files into a workspace (archive, ledger, check, feedback, draft)
- merge:    ``xxgk merge`` of the N offices into the county rollup (workbook + CSV)

and prints ms/file, the ratio to the baseline and each phase's peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def generate(folder: Path, n: int, distinct: int, lo_share: float, seed: int = 7) -> list[Path]:
    from pipeline import Filling, get_spec, write_workbook
    from pipeline.fill import consistent_values

    spec = get_spec("2021")
    rng = random.Random(seed)
    src = folder / "distinct"
    src.mkdir(parents=True)
    kinds = ["县直部门", "乡镇", "街道"]
    made = []
    for i in range(distinct):
        kind = kinds[i % 3]
        values = consistent_values(spec, rng, office_kind=kind)
        if i % 5 == 0:  # a fifth carry a typical mistake
            fid = rng.choice([f.id for f in spec.inputs() if f.table_id == "t3"])
            values[fid] = rng.choice(["/", values[fid] + 2, None])
        office = {"name": f"单位{i:05d}", "kind": kind, "code": f"B{i:05d}", "year": 2025,
                  "filler": "x", "phone": "1", "date": "2026-01-10"}
        made.append(write_workbook(spec, src / f"B{i:05d}.xlsx", Filling(office=office, values=values)))
    n_lo = int(distinct * lo_share)
    if n_lo and shutil.which("soffice"):
        lo_out = folder / "lo"
        subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{folder}/lo-profile",
                        "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(lo_out),
                        *[str(p) for p in made[:n_lo]]], capture_output=True, timeout=1800, check=False)
        for p in made[:n_lo]:
            if (lo_out / p.name).exists():
                shutil.copy(lo_out / p.name, p)
    batch = folder / "batch"
    batch.mkdir()
    files = []
    for i in range(n):
        target = batch / f"O{i:06d}.xlsx"
        shutil.copy(made[i % distinct], target)
        files.append(target)
    return files


def _roster(folder: Path, n: int, distinct: int) -> Path:
    # Every copy is its own office: the file name (O000123) identifies it.
    lines = ["单位代码,单位名称,单位类型,联系邮箱"]
    kinds = ["县直部门", "乡镇", "街道"]
    lines += [f"O{i:06d},单位O{i:06d},{kinds[(i % distinct) % 3]}," for i in range(n)]
    path = folder / "roster.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def phase(name: str, folder: Path) -> dict:
    """Run one phase in this process and report its time (peak memory is read by the parent)."""
    batch = folder / "batch"
    files = sorted(batch.glob("*.xlsx"))
    start = time.perf_counter()
    if name == "check":
        from pipeline.check import check_paths

        report = check_paths([batch], year=2025)
        extra = report.summary
    elif name == "openpyxl":
        import openpyxl

        for p in files:
            openpyxl.load_workbook(p)
        extra = {}
    elif name == "annotate":
        from pipeline.check import check_paths

        out = folder / "annotated"
        report = check_paths([batch], year=2025, annotate_dir=out)
        extra = {"written": len(list(out.glob("*.xlsx")))}
    elif name == "receive":
        from pipeline.intake import receive
        from pipeline.workspace import init_workspace

        ws = init_workspace(folder / "ws", folder / "roster.csv", 2025, name="测试县")
        result = receive(ws, [str(batch)])
        extra = {"received": len(result.items)}
    elif name == "merge":
        from pipeline.merge import merge
        from pipeline.workspace import open_workspace

        result = merge(open_workspace(folder / "ws"), folder / "rollup.xlsx")
        extra = {"included": len(result.included)}
    else:
        raise SystemExit(f"unknown phase {name}")
    seconds = time.perf_counter() - start
    # Peak resident memory of this phase: its own and its worker processes' (KiB on Linux).
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return {"seconds": seconds, "files": len(files), "peak_mb": peak / 1024, **extra}


def run_phase(name: str, folder: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--phase", name, "--folder", str(folder)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--distinct", type=int, default=None,
                    help="distinct workbooks, the rest copies (default: all distinct up to 2000; receive and merge "
                         "need distinct files, since an identical file is a re-send)")
    ap.add_argument("--lo-share", type=float, default=0.05, help="share of distinct workbooks re-saved by LibreOffice")
    ap.add_argument("--phases", default="check,openpyxl,annotate,receive,merge")
    ap.add_argument("--skip-merge", action="store_true", help="only check and openpyxl (for very large N)")
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase:
        print(json.dumps(phase(args.phase, Path(args.folder))))
        return 0
    folder = Path(tempfile.mkdtemp(prefix="xxgk-bench-"))
    distinct = min(args.distinct or min(args.n, 2000), args.n)
    t0 = time.perf_counter()
    generate(folder, args.n, distinct, args.lo_share)
    _roster(folder, args.n, distinct)
    print(f"generated {args.n} workbooks ({distinct} distinct, {args.lo_share:.0%} of them re-saved by LibreOffice)"
          f" in {time.perf_counter() - t0:.1f} s")
    phases = args.phases.split(",")
    if args.skip_merge:
        phases = [p for p in phases if p in ("check", "openpyxl")]
    results = {}
    for name in phases:
        results[name] = run_phase(name, folder)
    print(f"\nmachine: {platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{'phase':<10} {'files':>7} {'seconds':>9} {'ms/file':>9} {'peak MB':>9}  note")
    for name, r in results.items():
        ms = 1000 * r["seconds"] / r["files"]
        note = {k: v for k, v in r.items() if k not in ("seconds", "files", "peak_mb")}
        print(f"{name:<10} {r['files']:>7} {r['seconds']:>9.2f} {ms:>9.2f} {r['peak_mb']:>9.0f}  {note or ''}")
    if "check" in results and "openpyxl" in results:
        print(f"\ncheck is {results['openpyxl']['seconds'] / results['check']['seconds']:.1f}x faster than the "
              f"openpyxl baseline (target: at least 4x)")
    if "merge" in results:
        print(f"merge of {results['merge']['files']} offices: {results['merge']['seconds']:.2f} s (target: under 5 s)")
    shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
