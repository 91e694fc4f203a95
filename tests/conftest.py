import random

import pytest

from pipeline import get_spec
from pipeline.fill import consistent_values

FORMATS = ["2019", "2021"]


@pytest.fixture(params=FORMATS)
def spec(request):
    return get_spec(request.param)


@pytest.fixture
def consistent(spec):
    return consistent_values(spec, random.Random(7), office_kind="县直部门")
