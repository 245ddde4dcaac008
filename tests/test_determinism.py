"""The same seed gives identical embeddings on CPU: for every method, whatever the global
random state before fit, and in a fresh process with another hash seed. (On GPU, see the
README's section on reliability: random draws are the same, sums with atomic adds are not.)
"""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from gcl import GraphCLRecommender, Interactions

ROOT = Path(__file__).resolve().parents[1]

METHODS = [("pop", {}), ("lightgcn", {}), ("sgl-ed", {}), ("sgl-nd", {}), ("sgl-rw", {}),
           ("simgcl", {}), ("xsimgcl", {}), ("lightgcl", {"rank": 3}),
           ("ncl", {"warm_up": 1, "num_clusters": 4}), ("directau", {}),
           ("lightgcn", {"encoder": "gcn"}),
           ("lightgcn", {"augment": {"type": "EdgeDrop", "kwargs": {"p": 0.2}}})]


def log_frame(seed=0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = [(f"user-{u}", f"item-{int(i)}") for u in range(30)
            for i in rng.choice(20, 5, replace=False)]
    return pd.DataFrame(rows, columns=["user", "item"])


@pytest.fixture(scope="module")
def splits():
    return Interactions.from_pandas(log_frame()).split("random", ratios=(0.8, 0.2), seed=0)


def fit(train, valid, method, kw, seed=0):
    rec = GraphCLRecommender(method=method, dim=8, layers=2, lr=0.02, batch_size=32, epochs=3,
                             device="cpu", progress=False, seed=seed, **kw)
    return rec.fit(train, valid=valid)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("method, kw", METHODS)
def test_same_seed_gives_identical_embeddings(splits, method, kw):
    train, valid = splits
    a = fit(train, valid, method, kw)
    torch.manual_seed(1234)  # global state a user's code left behind is reseeded by fit
    np.random.seed(99)
    torch.rand(7)
    b = fit(train, valid, method, kw)
    np.testing.assert_array_equal(a.user_embeddings(), b.user_embeddings())
    np.testing.assert_array_equal(a.item_embeddings(), b.item_embeddings())
    assert [h.get("valid_ndcg@20") for h in a.history_] == [
        h.get("valid_ndcg@20") for h in b.history_]
    if method != "pop":
        c = fit(train, valid, method, kw, seed=1)
        assert not np.array_equal(a.user_embeddings(), c.user_embeddings())


CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    import pandas as pd
    import torch
    from gcl import GraphCLRecommender, Interactions

    torch.set_num_threads(1)
    df = pd.read_csv(sys.argv[1])
    train, valid = Interactions.from_pandas(df).split("random", ratios=(0.8, 0.2), seed=0)
    rec = GraphCLRecommender(method="sgl-ed", dim=8, layers=2, lr=0.02, batch_size=32,
                             epochs=3, device="cpu", progress=False).fit(train, valid=valid)
    np.save(sys.argv[2], np.concatenate([rec.user_embeddings(), rec.item_embeddings()]))
""")


def test_fresh_processes_with_other_hash_seeds_agree(tmp_path):
    data = tmp_path / "log.csv"
    log_frame().to_csv(data, index=False)
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    outs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"emb{hash_seed}.npy"
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": hash_seed,
               "PYTHONPATH": str(ROOT)}
        done = subprocess.run([sys.executable, str(script), str(data), str(out)], env=env,
                              cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        outs.append(np.load(out))
    np.testing.assert_array_equal(outs[0], outs[1])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_same_seed_agrees_to_float_noise(splits):
    """On GPU only the order of atomic additions varies: results agree closely, not
    bit for bit (see the README)."""
    train, valid = splits
    kw = dict(method="lightgcn", dim=8, layers=2, lr=0.02, batch_size=32, epochs=3,
              device="cuda", progress=False)
    a = GraphCLRecommender(**kw).fit(train, valid=valid)
    b = GraphCLRecommender(**kw).fit(train, valid=valid)
    np.testing.assert_allclose(a.user_embeddings(), b.user_embeddings(), rtol=1e-3, atol=1e-4)
