import pytest

from .mixin import MethodContract


class TestXSimGCL(MethodContract):
    method = "xsimgcl"


def test_paper_defaults_and_layer_check():
    from gcl.methods import XSimGCL

    m = XSimGCL(10, 10)
    assert (m.eps, m.cl_weight, m.temperature, m.cl_layer) == (0.2, 0.2, 0.15, 1)
    with pytest.raises(ValueError, match="cl_layer"):
        XSimGCL(10, 10, layers=2, cl_layer=3)
