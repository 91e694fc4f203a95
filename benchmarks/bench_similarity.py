"""How fast and how right the 雷同 check is across a workspace: N offices, some copying others.

    python benchmarks/bench_similarity.py --offices 1000 --copies 30 [--on-disk]

Generates N offices' sections 一、五、六 written independently (sentences drawn from a large pool,
with their own numbers and names), then makes ``--copies`` offices copy another office's section
with small edits (numbers changed, a few characters altered). Builds the peer index and asks,
for every office and section, which other office is most similar — what a workspace does when
each file arrives — and reports the time, the copies found and any independent text flagged.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.similarity import PeerIndex, similarity  # noqa: E402
from pipeline.spec import get_spec  # noqa: E402

# Independent writing, roughly: each office's sentences are its own, built from a common vocabulary of
# two-character words (so stock words recur, whole sentences rarely); a few stock sentences are shared.
WORDS = [a + b for a in "政务公开信息申请办理平台目录制度审核培训考核监督网站专栏文件政策解读回应基层财政项目执法服务"
         for b in "务开息请理台录度核训核督站栏件策读应层政目法务"]
STOCK = ["深入贯彻落实政府信息公开条例", "坚持以公开为常态不公开为例外", "切实保障人民群众的知情权参与权表达权和监督权"]


def sentence(rng: random.Random) -> str:
    return "".join(rng.choice(WORDS) for _ in range(rng.randint(8, 16))) + "。"


def text(rng: random.Random, name: str, n: int) -> str:
    body = [sentence(rng) for _ in range(n)]
    if rng.random() < 0.5:
        body[rng.randrange(n)] = rng.choice(STOCK) + "。"
    return f"{name}" + "".join(body).replace("。", f"，全年{rng.randint(2, 300)}件。", 1)


def edit(rng: random.Random, source: str) -> str:
    """A copy as copiers make it: other numbers, a few characters changed."""
    out = [str(rng.randint(1, 9)) if ch.isdigit() else ch for ch in source]
    for i in rng.sample(range(len(out)), max(1, len(out) // 40)):
        out[i] = rng.choice("的了和与及在对")
    return "".join(out)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--offices", type=int, default=1000)
    ap.add_argument("--copies", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--on-disk", action="store_true", help="index in a temporary SQLite file, as batches from 1,000 offices do")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    spec = get_spec("2021")
    rule = next(r for r in spec.rules if r.kind == "similarity" and r.instances[0].params.against == "peers")
    threshold = rule.instances[0].params.threshold
    sections = rule.instances[0].params.sections
    names = [f"第{i:04d}单位" for i in range(args.offices)]
    docs = {name: {"s1": text(rng, name, 8), "s5": text(rng, name, 3), "s6": text(rng, name, 2)} for name in names}
    copies: dict[tuple[str, str], str] = {}
    for copier in rng.sample(names, args.copies):
        source = rng.choice([n for n in names if n != copier])
        section = rng.choice(sections)
        docs[copier][section] = edit(rng, docs[source][section].replace(source, copier))
        copies[(copier, section)] = source
    start = time.perf_counter()
    index = PeerIndex(on_disk=args.on_disk)
    for name, prose in docs.items():
        for section, t in prose.items():
            index.add(name, name, section, t)
    built = time.perf_counter() - start
    flagged: dict[tuple[str, str], tuple[str, float]] = {}
    for name, prose in docs.items():
        for section, t in prose.items():
            best = index.most_similar(section, t, exclude=name)
            if best is not None and best[1] >= threshold:
                flagged[(name, section)] = best
    total = time.perf_counter() - start
    index.close()
    found = sum(1 for key, source in copies.items() if key in flagged and flagged[key][0] == source)
    pairs = {tuple(sorted((a, b))) for (a, _), (b, _) in flagged.items()}
    expected = {tuple(sorted((a, b))) for (a, _), b in copies.items()}
    false = pairs - expected
    sample = [similarity(docs[a]["s1"], docs[b]["s1"]) for a, b in zip(names[::2], names[1::2])]
    print(f"{args.offices} offices × {len(sections)} sections, {args.copies} copies, threshold {threshold:.0%}")
    print(f"index built in {built:.2f} s; every office and section compared in {total:.2f} s in all")
    print(f"copies found: {found}/{args.copies}; independent pairs flagged: {len(false)}")
    print(f"similarity of independently written 一 (pairs): mean {sum(sample) / len(sample):.2f}, max {max(sample):.2f}")
    return 0 if found == args.copies and not false else 1


if __name__ == "__main__":
    sys.exit(main())
