import pytest

from tests.train import two_tastes


@pytest.fixture(scope="module")
def data():
    return two_tastes()
