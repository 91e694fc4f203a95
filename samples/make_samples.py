"""Regenerate the bundled samples: python samples/make_samples.py"""

from pathlib import Path

from pipeline.samples import write_samples

if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    for path, mistake in write_samples(here):
        print(path.relative_to(here), "—", mistake or "数据一致")
