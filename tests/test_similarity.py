"""The 雷同 measure: the share of a text inside runs another text also has, counted per character."""

from hypothesis import given, strategies as st

from pipeline.similarity import RUN, _runs, repeated

texts = st.text(alphabet="甲乙丙", max_size=60)


@given(texts, texts)
def test_repeated_counts_each_covered_character_once(a, b):
    runs = _runs(b)
    if len(a) < RUN:
        expected = float(bool(a) and hash(a) in runs)
    else:
        covered = [False] * len(a)
        for i in range(len(a) - RUN + 1):
            if hash(a[i:i + RUN]) in runs:
                covered[i:i + RUN] = [True] * RUN
        expected = sum(covered) / len(a)
    assert repeated(a, runs) == expected


def test_the_index_gives_the_same_answers_in_every_run():
    """Python salts hash() per process; the MinHash must not depend on it, or whether a text that partly repeats
    another is flagged would change from one `xxgk check` to the next."""
    import os
    import subprocess
    import sys

    code = ("from pipeline.similarity import PeerIndex, shingles\n"
            "a = '本单位坚持以公开为常态不公开为例外全面推进决策执行管理服务结果公开' * 3\n"
            "b = a[:40] + '另外写了一些完全不同的内容以便测试部分重复的情况' * 3\n"
            "i = PeerIndex(); i.add('1', '甲', 's1', a); i.add('2', '乙', 's1', b)\n"
            "print(sorted(shingles(a))[:5], i.buckets.__len__(), i.best('s1', b, exclude='2'))\n")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(outs) == 1, outs
