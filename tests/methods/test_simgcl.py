from .mixin import MethodContract


class TestSimGCL(MethodContract):
    method = "simgcl"


def test_paper_defaults():
    from gcl.methods import SimGCL

    m = SimGCL(10, 10)
    assert (m.eps, m.cl_weight, m.temperature) == (0.1, 0.5, 0.2)
    assert m.augment.per == "batch" and not m.encoder.include_input
