"""Item text around any embedding method (gcl.methods.text)."""
import pytest
import torch

from gcl.augment.edge import EdgeDrop
from gcl.graph import UIGraph
from gcl.methods import METHODS, build_method
from gcl.methods.text import attach_text, text_branch
from gcl.nn.text_tower import TextInput
from tests.nn.test_text_tower import make_branch

TEXT_METHODS = sorted(name for name, cls in METHODS.items() if cls.can("text"))


def setup(small_log, name, **kwargs):
    torch.manual_seed(0)
    method = build_method(name, small_log.num_users, small_log.num_items, dim=4, **kwargs)
    graph = UIGraph.from_interactions(small_log)
    method.prepare(small_log, graph)
    branch = make_branch(num_items=small_log.num_items, num_users=small_log.num_users, dim=4,
                         rec_weight=0.5)
    return method, graph, branch


def batch(small_log):
    users = torch.as_tensor(small_log.users[:6], dtype=torch.long)
    pos = torch.as_tensor(small_log.items[:6], dtype=torch.long)
    return users, pos, (pos + 1) % small_log.num_items


def test_every_graph_method_takes_text():
    assert {"lightgcn", "sgl-ed", "simgcl", "xsimgcl", "lightgcl", "ncl", "directau",
            "custom"} <= set(TEXT_METHODS)
    assert not {"pop", "gf-cf", "bspm", "seq-cl"} & set(TEXT_METHODS)


def test_attach_wraps_the_encoder_and_keeps_weight_names(small_log):
    method, _, branch = setup(small_log, "simgcl")
    before = set(method.state_dict())
    attach_text(method, branch)
    assert isinstance(method.encoder, TextInput) and text_branch(method) is branch
    assert method.text is branch
    after = set(method.state_dict())
    assert {k.replace("encoder.", "encoder.inner.", 1) for k in before} <= after
    assert {k for k in after - before if not k.startswith("encoder.inner.")} == {
        k for k in after if k.startswith("encoder.branch.")}


@pytest.mark.parametrize("name", TEXT_METHODS)
def test_text_loss_joins_every_method(small_log, name):
    method, graph, branch = setup(small_log, name)
    attach_text(method, branch)
    method.train()
    method.new_epoch(graph, torch.Generator().manual_seed(0))
    out = method.loss(graph, *batch(small_log))
    assert {"text", "text_bpr"} <= set(out) and torch.isfinite(out["loss"])
    tower = next(branch.tower.parameters())
    assert torch.autograd.grad(out["loss"], tower, allow_unused=True)[0].abs().sum() > 0


def test_text_term_is_the_branch_loss_on_the_ranked_user_embeddings(small_log):
    method, graph, branch = setup(small_log, "lightgcn")
    attach_text(method, branch)
    method.train()
    users, pos, neg = batch(small_log)
    method.new_epoch(graph, torch.Generator().manual_seed(1))
    out = method.loss(graph, users, pos, neg)
    user_emb, item_emb = method.encoder(graph)
    expected = branch.loss(user_emb, users, pos, neg, torch.Generator().manual_seed(1))
    bpr = method.ranking_loss(user_emb[users], item_emb[pos], item_emb[neg.view(6, 1)],
                              users, pos, neg)
    torch.testing.assert_close(out["text"], expected["text"])
    torch.testing.assert_close(out["text_bpr"], expected["text_bpr"])
    torch.testing.assert_close(out["loss"], bpr["loss"] + expected["text"])


def test_terms_only_while_training(small_log):
    method, graph, _ = setup(small_log, "lightgcn")
    calls = []

    def term(m, user_emb, item_emb, users, pos, neg):
        calls.append(m)
        return {"loss": user_emb.sum() * 0 + 1.0, "extra": user_emb.new_tensor(1.0)}

    method.add_term(term)
    method.train()
    plain = build_method("lightgcn", small_log.num_users, small_log.num_items, dim=4)
    plain.load_state_dict(method.state_dict())
    out, ref = method.loss(graph, *batch(small_log)), plain.loss(graph, *batch(small_log))
    assert calls == [method] and "extra" in out
    torch.testing.assert_close(out["loss"], ref["loss"] + 1.0)
    method.eval()
    assert "extra" not in method.loss(graph, *batch(small_log))


def test_text_around_a_gnn_encoder(small_log):
    method, graph, branch = setup(small_log, "custom", encoder="gcn", augment=EdgeDrop(0.2))
    attach_text(method, branch)
    method.train()
    method.new_epoch(graph, torch.Generator().manual_seed(0))
    out = method.loss(graph, *batch(small_log))
    assert "text" in out and torch.isfinite(out["loss"])
    user_emb, item_emb = method.embeddings(graph)
    assert item_emb.shape == (small_log.num_items, method.encoder.inner.out_dim)


def test_method_without_the_capability_refuses_text(small_log):
    method = build_method("pop", small_log.num_users, small_log.num_items)
    with pytest.raises(ValueError, match="item text needs a method with a text branch"):
        attach_text(method, make_branch())
