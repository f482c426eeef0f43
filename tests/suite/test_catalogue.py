"""Every registered op passes its float64 gradient check on every backend."""

import pytest

from minis2s import suite
from minis2s.gradcheck import TOLERANCE


@pytest.mark.parametrize("case", suite.CASES, ids=lambda c: c.name)
def test_gradient_matches_centered_differences(case, backend):
    results = suite.run(case)
    assert results, "a case must check at least one input"
    for r in results:
        assert r.rel_error <= TOLERANCE, f"{r.op} wrt {r.wrt}: {r.rel_error:.2e}"
