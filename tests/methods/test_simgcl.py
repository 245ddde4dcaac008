from .mixin import MethodContract


class TestSimGCL(MethodContract):
    method = "simgcl"


def test_paper_defaults():
    from gcl.methods import SimGCL

    m = SimGCL(10, 10)
    assert (m.eps, m.cl_weight, m.temperature) == (0.1, 0.5, 0.2)
    assert m.augment.per == "batch" and not m.encoder.include_input
    assert m.encoder.layers == 2  # SELFRec's conf/SimGCL.yaml
    assert m.encoder.embedding.weight[:10].abs().max() <= (6 / (10 + 64)) ** 0.5  # Xavier


def test_the_recommender_takes_the_methods_depth_unless_set():
    from gcl import GraphCLRecommender
    from tests.methods.mixin import clustered_splits

    train = clustered_splits()[0]
    depth = {}
    for method, layers in (("simgcl", None), ("xsimgcl", None), ("lightgcl", None),
                           ("sgl-ed", None), ("lightgcn", None), ("simgcl", 4)):
        rec = GraphCLRecommender(method=method, layers=layers, dim=8, epochs=1,
                                 device="cpu", progress=False).fit(train)
        depth[method, layers] = (rec.method_.encoder.layers, rec.method_.reg)
    assert depth == {("simgcl", None): (2, 1e-4), ("xsimgcl", None): (2, 1e-4),
                     ("lightgcl", None): (2, 1e-7), ("sgl-ed", None): (3, 1e-4),
                     ("lightgcn", None): (3, 1e-4), ("simgcl", 4): (4, 1e-4)}
