"""Shared fixtures: every backend-aware test runs on numpy, strict and (with a GPU) cupy."""

import pytest

from minis2s import backend as B

_BACKENDS = [
    "numpy",
    "strict",
    pytest.param("cupy", marks=pytest.mark.gpu),
]


def pytest_collection_modifyitems(config, items):
    if B.gpu_available():
        return
    skip = pytest.mark.skip(reason="needs CuPy and an NVIDIA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(params=_BACKENDS)
def backend(request):
    """Run the test under each backend; yields the array module."""
    with B.use(request.param) as xp:
        yield xp


@pytest.fixture
def numpy_afterwards():
    """For a test whose command line switches the backend (``--backend strict``): the rest of
    the session runs on NumPy again, whether the test passed or not."""
    yield
    B.set_backend("numpy")
