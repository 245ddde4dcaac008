import numpy as np
import pytest
import torch

from gcl import GraphCLRecommender
from gcl.nn import ProjectionHead
from tests.methods.mixin import clustered_splits


def test_head_shape_and_layers():
    head = ProjectionHead(8, layers=3, hidden=16)
    assert head(torch.randn(5, 8)).shape == (5, 8)
    assert len(head.mlp.lins) == 3
    with pytest.raises(ValueError, match="projection_head"):
        ProjectionHead(8, layers=0)


def test_projection_head_is_trained_but_absent_from_exported_embeddings(tmp_path):
    train, valid, _ = clustered_splits()
    rec = GraphCLRecommender(method="simgcl", dim=8, layers=1, epochs=2, batch_size=128,
                             patience=None, device="cpu", progress=False, projection_head=2)
    head = rec.fit(train, valid=valid).method_.head
    assert isinstance(head, ProjectionHead)
    method, users = rec.method_.train(), torch.arange(8)
    method.loss(rec.graph_, users, users, users + 8)["loss"].backward()
    assert head.mlp.lins[0].weight.grad.abs().sum() > 0  # the contrastive loss trains it
    method.eval()
    u, i = rec.method_.embeddings(rec.graph_)
    np.testing.assert_array_equal(rec.user_embeddings(), u.detach().numpy())
    np.testing.assert_array_equal(rec.item_embeddings(), i.detach().numpy())
    rec.export(tmp_path)
    for name in ("user_embeddings.npy", "item_embeddings.npy"):
        saved = np.load(tmp_path / name)
        with torch.no_grad():
            projected = head(torch.from_numpy(saved)).numpy()
        assert not np.allclose(saved, projected)
    np.testing.assert_array_equal(np.load(tmp_path / "user_embeddings.npy"),
                                  rec.user_embeddings())


def test_projection_head_needs_a_contrastive_loss():
    with pytest.raises(ValueError, match="contrastive loss"):
        GraphCLRecommender(method="lightgcn", device="cpu", progress=False,
                           projection_head=2).fit(clustered_splits()[0])
