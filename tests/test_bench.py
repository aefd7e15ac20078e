"""The regression check's verdict (bench/regress.py): a change is flagged when it is more
than 5 % slower than its base beyond the noise the base's own rounds showed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.once  # arithmetic, the same on either database

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def regress():
    sys.path.insert(0, str(BENCH))  # it imports bench/compare.py as its neighbour
    try:
        spec = importlib.util.spec_from_file_location("regress", BENCH / "regress.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(BENCH))


def test_a_change_ten_per_cent_slower_on_a_steady_base_is_flagged(regress):
    found = regress.verdict([1000, 1010, 990], [900, 905, 895])
    assert found["slower"]
    assert found["ratio"] == pytest.approx(0.9, abs=0.01)
    assert found["noise"] == pytest.approx(1010 / 990 - 1)


def test_the_same_loss_within_a_noisy_base_is_not_flagged(regress):
    found = regress.verdict([1000, 1150, 900], [900, 1040, 820])
    assert not found["slower"]  # the base alone varied by 28 %
    assert found["low"] <= found["ratio"] <= found["high"]


def test_a_faster_or_equal_change_is_never_flagged(regress):
    assert not regress.verdict([1000, 1000], [1000, 1000])["slower"]
    assert not regress.verdict([1000, 1000], [1300, 1250])["slower"]
    assert regress.verdict([1000], [940])["slower"]  # one round: no noise to forgive
