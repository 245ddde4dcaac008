import pytest
import torch
import torch.nn.functional as F

from gcl.graph import UIGraph
from gcl.methods import DirectAU

from .mixin import MethodContract, clustered_splits


class TestDirectAU(MethodContract):
    method = "directau"


class TestDirectAUOnMF(MethodContract):
    method = "directau"
    kwargs = {"layers": 0}


def test_loss_is_selfrecs_formula():
    """SELFRec DirectAU.py: alignment + gamma * mean of the two uniformities, plus
    l2_reg_loss(reg, user_emb, item_emb) / batch_size on the LightGCN rows."""
    train = clustered_splits()[0]
    graph = UIGraph.from_interactions(train)
    torch.manual_seed(0)
    m = DirectAU(train.num_users, train.num_items, dim=8, layers=2, gamma=2.0, reg=0.1)
    assert (DirectAU(3, 3).gamma, DirectAU(3, 3).reg, DirectAU(3, 3).encoder.layers) == \
        (2.0, 1e-4, 3)
    users, pos = torch.tensor([0, 4, 4, 9]), torch.tensor([1, 3, 7, 7])
    out = m.loss(graph, users, pos, torch.zeros(4, dtype=torch.long))
    u_all, i_all = m.encoder(graph)
    u, i = u_all[users], i_all[pos]
    un, inn = F.normalize(u, dim=-1), F.normalize(i, dim=-1)
    align = (un - inn).norm(p=2, dim=1).pow(2).mean()

    def unif(x):
        return torch.pdist(x, p=2).pow(2).mul(-2).exp().mean().log()

    reg = 0.1 * (torch.norm(u, p=2) / 4 + torch.norm(i, p=2) / 4) / 4
    want = align + 2.0 * (unif(un) + unif(inn)) / 2 + reg
    torch.testing.assert_close(out["loss"], want)
    one = m.loss(graph, users[:1], pos[:1], torch.zeros(1, dtype=torch.long))
    assert torch.isfinite(one["loss"])  # a last batch of one row
    with pytest.raises(ValueError, match="gamma"):
        DirectAU(3, 3, gamma=-1)
