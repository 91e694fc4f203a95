"""Long fuzz run of the reader, checker and annotator: python benchmarks/fuzz_reader.py --iterations 20000

Every mutated workbook must be read, checked and annotated without an exception. A
failing input is saved to fuzz-failures/ with its seed, for a regression test.
"""

import argparse
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "corpus"))

from make_corpus import _base  # noqa: E402
from mutate import mutate  # noqa: E402

from pipeline.annotate import annotate  # noqa: E402
from pipeline.check import check_submission  # noqa: E402
from pipeline.reader import read_submission  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--iterations", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--annotate-every", type=int, default=10, help="annotate every Nth input (slower)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="xxgk-fuzz-"))
    valid = _base(tmp)
    failures = 0
    statuses: dict[str, int] = {}
    start = time.time()
    for i in range(args.iterations):
        seed = args.seed + i
        data = mutate(valid, random.Random(seed))
        try:
            sub = read_submission(Path("fuzzed.xlsx"), data)
            result = check_submission(sub, year=2025)
            statuses[result.status] = statuses.get(result.status, 0) + 1
            if i % args.annotate_every == 0:
                path = tmp / "fuzzed.xlsx"
                path.write_bytes(data)
                result.path = path
                annotate(result, tmp / "fb")
        except Exception:  # noqa: BLE001 - the point is to find these
            failures += 1
            out = ROOT / "fuzz-failures"
            out.mkdir(exist_ok=True)
            (out / f"seed-{seed}.xlsx").write_bytes(data)
            print(f"seed {seed}:\n{traceback.format_exc()}", file=sys.stderr)
    elapsed = time.time() - start
    print(f"{args.iterations} inputs in {elapsed:.1f} s (seeds {args.seed}..{args.seed + args.iterations - 1}); "
          f"outcomes {statuses}; failures {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
