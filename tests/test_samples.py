"""The bundled samples: reproducible, and the seed report as published."""

from pathlib import Path

import pytest

from pipeline.fill import totals
from pipeline.samples import seed_sample, write_samples

from helpers import load_both, xml_parts

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("samples")
    return out, write_samples(out)


def test_committed_samples_equal_regenerated(regenerated):
    out, written = regenerated
    assert (ROOT / "samples" / "roster.csv").read_bytes() == (out / "roster.csv").read_bytes()
    for path, _ in written:
        committed = ROOT / "samples" / path.relative_to(out)
        assert committed.exists(), f"{committed} missing: run python samples/make_samples.py"
        assert xml_parts(committed) == xml_parts(path), f"{committed} is stale: run python samples/make_samples.py"


def test_seed_workbook_holds_the_published_figures(regenerated):
    out, _ = regenerated
    seed = seed_sample()
    spec = seed.spec
    path = next(out.glob("seed/*.xlsx"))
    wb, cached = load_both(path)
    published = {f.id: 0 for f in spec.inputs()}
    published["t2.art20_8.fees.prev_count"] = 1
    published["t2.art20_8.fees.change"] = None  # blank in the published report
    for f in spec.inputs():
        assert wb[f.sheet][f.cell].value == published[f.id], f.id
    assert all(v == 0 for k, v in totals(spec, published).items() if k.startswith("t3."))
    office = wb[spec.office.sheet]
    assert office[spec.office_field("year").cell].value == 2020
    assert spec.format == "2019"
    # The blank cell shows in the live completeness check of 表二.
    d5 = next(i for i in spec.rule("D5").instances if i.key == "t2")
    assert cached[d5.placement.sheet][d5.placement.cell].value.startswith("本表有1个单元格空白")
    prose = wb[spec.prose.sheet]
    assert "加强平台建设" in prose[spec.prose.fields[0].cell].value
