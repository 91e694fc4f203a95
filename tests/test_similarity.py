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
            "print(sorted(shingles(a))[:5], i.store.buckets.__len__(), i.best('s1', b, exclude='2'))\n")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(outs) == 1, outs


def test_the_index_on_disk_answers_as_the_one_in_memory():
    """A province's batch indexes its texts in a temporary SQLite file: the same candidates, the same
    measure, the same best match as in memory, also after texts are replaced and removed."""
    import random

    from pipeline.similarity import PeerIndex

    rng = random.Random(5)
    words = ["政府信息公开", "主动公开", "依申请公开", "行政复议", "平台建设", "监督保障", "本机关", "年度", "工作要点"]
    base = ["".join(rng.choice(words) + chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(40)) for _ in range(30)]
    texts = {str(i): t for i, t in enumerate(base)}
    texts["30"] = base[3][:200] + "本单位另写的结尾" * 5  # copies most of office 3
    texts["31"] = base[7]  # all of office 7
    memory, disk = PeerIndex(), PeerIndex(on_disk=True)
    try:
        for index in (memory, disk):
            for key, text in texts.items():
                index.add(key, f"单位{key}", "s1", text)
            index.add("5", "单位5", "s1", base[9])  # replaced: now a copy of office 9
            index.remove("8", "s1")
        for key, text in [*texts.items(), ("5", base[9])]:
            assert memory.best("s1", text, exclude=key) == disk.best("s1", text, exclude=key), key
        assert disk.best("s1", texts["31"], exclude="31")[:2] == ("7", "单位7")
        assert disk.best("s1", base[9], exclude="9")[0] == "5" and (disk.best("s1", base[8]) or ("",))[0] != "8"
    finally:
        disk.close()


def test_texts_sharing_boilerplate_do_not_make_every_office_a_candidate():
    """Offices' texts share stock phrases, so their MinHash bands meet now and then; at a province's 100,000
    offices every text had thousands of candidates (n² in all). The index looks at no more than MAX_CANDIDATES,
    those sharing the most bands, and a copy is still among them, on disk as in memory."""
    import random

    from pipeline.similarity import MAX_CANDIDATES, PeerIndex

    rng = random.Random(11)
    stock = "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(80))
    texts = {str(i): stock + "".join(chr(rng.randint(0x4E00, 0x9FA5)) for _ in range(80)) for i in range(400)}
    copy = texts["5"][:150] + "改了几个字" + texts["5"][155:]
    for index in (PeerIndex(), PeerIndex(on_disk=True)):
        try:
            for key, text in texts.items():
                index.add(key, f"单位{key}", "s1", text)
            looked = []
            many = index.store.many
            index.store.many = lambda section, keys: looked.extend(keys) or many(section, keys)
            key, name, score = index.best("s1", copy)
            assert (key, name) == ("5", "单位5") and score > 0.9
            assert len(looked) <= MAX_CANDIDATES < len(texts) // 4
        finally:
            index.close()
