import pytest
import torch

from gcl.nn import FeatureQueue, LightGCN, MomentumEncoder


def rows(*values):
    return torch.tensor([[float(v), -float(v)] for v in values])


def test_queue_contents_and_order_after_known_pushes():
    q = FeatureQueue(size=4, dim=2)
    assert len(q) == 0 and q.keys().shape == (0, 2)
    q.push(rows(1, 2))
    assert torch.equal(q.keys(), rows(1, 2))
    q.push(rows(3))
    assert torch.equal(q.keys(), rows(1, 2, 3))
    q.push(rows(4, 5))  # full: 1 leaves first
    assert len(q) == 4 and torch.equal(q.keys(), rows(2, 3, 4, 5))
    q.push(rows(6, 7, 8, 9, 10, 11))  # more than it holds: the last four stay
    assert torch.equal(q.keys(), rows(8, 9, 10, 11))
    q.push(rows(12))
    assert torch.equal(q.keys(), rows(9, 10, 11, 12))
    q.reset()
    assert len(q) == 0
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        q.push(torch.zeros(3))


def test_queue_is_saved_and_emptied_for_another_dimension():
    q = FeatureQueue(3, 2)
    q.push(rows(1, 2, 3, 4))
    same = FeatureQueue(3, 2)
    same.load_state_dict(q.state_dict())
    assert torch.equal(same.keys(), rows(2, 3, 4))
    other = FeatureQueue(3, 5)
    other.push(torch.ones(2, 5))
    other.load_state_dict(q.state_dict())  # keys of another space are no negatives
    assert len(other) == 0


def test_momentum_update_by_hand():
    query = LightGCN(2, 1, dim=2, layers=1)
    with torch.no_grad():
        query.embedding.weight.copy_(torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    mo = MomentumEncoder(query, dim=2, size=8, momentum=0.9)
    key = mo.encoder.embedding.weight
    assert torch.equal(key, query.embedding.weight) and not key.requires_grad
    with torch.no_grad():
        query.embedding.weight.copy_(torch.tensor([[0.0, 0.0], [1.0, 1.0], [-5.0, 6.0]]))
    mo.update(query)
    # 0.9 * old key + 0.1 * new query
    want = torch.tensor([[0.9, 1.8], [2.8, 3.7], [4.0, 6.0]])
    torch.testing.assert_close(key, want)
    mo.update(query)
    torch.testing.assert_close(key, 0.9 * want + 0.1 * query.embedding.weight)
    with pytest.raises(ValueError, match="momentum"):
        MomentumEncoder(query, 2, momentum=1.0)


def test_queue_leaves_out_the_keys_of_given_nodes():
    q = FeatureQueue(size=4, dim=2)
    q.push(rows(1, 2, 3), ids=torch.tensor([7, 8, 9]))
    q.push(rows(4, 5), ids=torch.tensor([7, 10]))  # 1 (node 7) leaves first
    assert torch.equal(q.keys(), rows(2, 3, 4, 5))
    assert torch.equal(q.keys(exclude=torch.tensor([7, 3])), rows(2, 3, 5))
    assert q.ids.tolist() == [10, 8, 9, 7]  # ring buffer slots
