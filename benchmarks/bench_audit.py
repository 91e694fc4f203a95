"""How fast `xxgk audit` reads a year's published reports, as an assessor would run it.

    python benchmarks/bench_audit.py --reports 500 [--pdf 5]

Generates N distinct reports (each office's own figures from its own seed, written by the report
command as Markdown, HTML and Word in turn, plus ``--pdf`` exported by LibreOffice), then times
the import of each kind and the whole audit (import, checks, the set's similarity, scoring,
workbook). Prints CPU and wall time per report and the peak memory.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline import Filling, get_spec, write_workbook  # noqa: E402
from pipeline.audit import audit  # noqa: E402
from pipeline.fill import consistent_prose, consistent_values  # noqa: E402
from pipeline.importer import import_document  # noqa: E402
from pipeline.report import write_report  # noqa: E402

KINDS = (".md", ".html", ".docx")


def generate(folder: Path, n: int, pdfs: int) -> list[Path]:
    spec = get_spec("2021")
    work = folder / "workbooks"
    work.mkdir(parents=True)
    out = folder / "reports"
    out.mkdir()
    made = []
    for i in range(n):
        rng = random.Random(i)
        values = consistent_values(spec, rng, office_kind="县直部门")
        office = {"name": f"东州县第{i + 1}局", "kind": "县直部门", "code": f"B{i:05d}", "year": 2025,
                  "filler": "x", "phone": "1", "date": "2026-01-10"}
        prose = consistent_prose(spec, values, 2025, office=office["name"], index=i % 12)
        wb = write_workbook(spec, work / f"{i}.xlsx", Filling(office=office, values=values, prose=prose))
        target = out / f"{i:05d}{KINDS[i % len(KINDS)]}"
        write_report(wb, target)
        made.append(target)
    if pdfs:
        docx = [p for p in made if p.suffix == ".docx"][:pdfs]
        subprocess.run(["soffice", "--headless", f"-env:UserInstallation=file://{folder}/lo", "--convert-to", "pdf",
                        "--outdir", str(out), *map(str, docx)], capture_output=True, check=True, timeout=900)
        for d in docx:
            d.unlink()
    for p in out.glob("*.编制说明.md"):
        p.unlink()
    return sorted(out.iterdir())


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reports", type=int, default=500)
    ap.add_argument("--pdf", type=int, default=5, help="how many of the Word reports to export as PDF")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="xxgk-audit-"))
    try:
        t = time.time()
        files = generate(folder, args.reports, args.pdf)
        print(f"generated {len(files)} reports in {time.time() - t:.1f} s")
        for kind in (".md", ".html", ".docx", ".pdf"):
            some = [p for p in files if p.suffix == kind][:50]
            if not some:
                continue
            c = time.process_time()
            for p in some:
                import_document(p)
            print(f"import {kind:5}: {(time.process_time() - c) / len(some) * 1000:7.1f} ms CPU per report "
                  f"({len(some)} reports)")
        c, w = time.process_time(), time.time()
        report = audit([folder / "reports"])
        report.write_xlsx(folder / "audit.xlsx")
        cpu, wall = time.process_time() - c, time.time() - w
        n = len(report.rows)
        print(f"audit {n} reports: {cpu:.2f} s CPU, {wall:.2f} s wall, {cpu / n * 1000:.1f} ms CPU per report; "
              f"{report.failed} unreadable; uncertain figures: {sum(len(r.imported.uncertain) for r in report.rows if r.imported)}")
        print(f"peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
