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
