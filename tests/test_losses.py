import math

import pytest
import torch

from gcl.losses import bpr, l2


def test_bpr_by_hand():
    pos = torch.tensor([2.0, 0.0, -1.0])
    neg = torch.tensor([1.0, 0.0, 1.0])
    # -mean(log sigmoid(pos - neg)) with sigmoid(d) = 1 / (1 + e^-d)
    want = -sum(math.log(1 / (1 + math.exp(-(p - n)))) for p, n in
                zip([2.0, 0.0, -1.0], [1.0, 0.0, 1.0])) / 3
    assert bpr(pos, neg).item() == pytest.approx(want, rel=1e-6)
    assert bpr(torch.tensor([0.0]), torch.tensor([0.0])).item() == pytest.approx(math.log(2))


def test_bpr_with_several_negatives_averages_over_all_of_them():
    pos = torch.tensor([1.0, -0.5], dtype=torch.float64)
    neg = torch.tensor([[0.0, 2.0, 1.0], [-0.5, 0.3, -3.0]], dtype=torch.float64)
    terms = [math.log1p(math.exp(n - p)) for p, row in zip(pos.tolist(), neg.tolist())
             for n in row]
    assert bpr(pos, neg).item() == pytest.approx(sum(terms) / 6, rel=1e-12)


def test_bpr_is_stable_for_large_margins():
    pos = torch.tensor([100.0, -100.0])
    neg = torch.tensor([-100.0, 100.0])
    out = bpr(pos, neg)
    assert torch.isfinite(out)
    assert out.item() == pytest.approx(200.0 / 2, rel=1e-6)  # log(1 + e^-200) ~ 0, +200


def test_bpr_gradient_by_hand():
    pos = torch.tensor([0.5, -1.0], requires_grad=True)
    neg = torch.tensor([0.0, 1.0], requires_grad=True)
    bpr(pos, neg).backward()
    # d/dpos softplus(neg - pos) / B = -sigmoid(neg - pos) / B
    want = [-1 / (1 + math.exp(-(n - p))) / 2 for p, n in zip([0.5, -1.0], [0.0, 1.0])]
    torch.testing.assert_close(pos.grad, torch.tensor(want))
    torch.testing.assert_close(neg.grad, -torch.tensor(want))


def test_l2_by_hand():
    a = torch.tensor([[1.0, 2.0], [3.0, 0.0]])
    b = torch.tensor([[0.5, 0.5], [-1.0, 1.0]])
    # (1 + 4 + 9) + (0.25 + 0.25 + 1 + 1) = 16.5, over 2 * B with B = 2
    assert l2(a, b).item() == pytest.approx(16.5 / 4)
    assert l2(a).item() == pytest.approx(14 / 4)
    c = torch.ones(6, 2)  # e.g. B x N negatives flattened: B given explicitly
    assert l2(a, c, batch_size=2).item() == pytest.approx((14 + 12) / 4)
    assert l2(c).item() == pytest.approx(12 / 12)


def test_l2_gradient_is_t_over_b():
    a = torch.tensor([[1.0, -2.0], [0.5, 3.0], [0.0, 1.0]], requires_grad=True)
    l2(a).backward()
    torch.testing.assert_close(a.grad, a.detach() / 3)


def test_info_nce_with_a_queue_by_hand():
    from gcl.losses import info_nce

    z1 = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    z2 = torch.tensor([[1.0, 1.0], [0.0, 1.0]], dtype=torch.float64)
    queue = torch.tensor([[-3.0, 0.0], [0.0, -1.0], [1.0, 0.0]], dtype=torch.float64)
    t = 0.5

    def cos(a, b):
        return sum(x * y for x, y in zip(a, b)) / math.hypot(*a) / math.hypot(*b)

    want = 0.0
    for i, a in enumerate(z1.tolist()):
        logits = [cos(a, b) / t for b in z2.tolist() + queue.tolist()]
        want -= logits[i] - math.log(sum(math.exp(x) for x in logits))
    got = info_nce(z1, z2, t, queue=queue)
    assert got.item() == pytest.approx(want / 2, rel=1e-12)
    # An empty queue is no queue; a queue of another width is refused.
    assert info_nce(z1, z2, t, queue=queue[:0]).item() == pytest.approx(
        info_nce(z1, z2, t).item(), rel=1e-12)
    with pytest.raises(ValueError, match="queue"):
        info_nce(z1, z2, t, queue=torch.zeros(3, 5, dtype=torch.float64))


def test_info_nce_all_by_hand():
    from gcl.losses import info_nce_all

    anchors = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    candidates = torch.tensor([[3.0, 0.0], [0.0, 1.0], [1.0, 1.0]], dtype=torch.float64)
    positive = torch.tensor([0, 2])
    tau = 0.5
    # cosine: anchor 0 = (1, 0) -> 1, 0, 1/sqrt2; anchor 1 = (0, 1) -> 0, 1, 1/sqrt2
    r = 1 / math.sqrt(2)
    sims = [[1.0, 0.0, r], [0.0, 1.0, r]]
    want = sum(-math.log(math.exp(row[p] / tau) / sum(math.exp(s / tau) for s in row))
               for row, p in zip(sims, [0, 2])) / 2
    assert info_nce_all(anchors, candidates, positive, tau).item() == pytest.approx(want)


def test_nt_xent_is_duorecs_cl4srec_form_by_hand():
    from gcl.losses import nt_xent

    z1 = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    z2 = torch.tensor([[2.0, 0.0], [1.0, 1.0]], dtype=torch.float64)
    rows = z1.tolist() + z2.tolist()  # 2B = 4 anchors, partner of i is i + 2 (mod 4)

    def dot(a, b):
        return sum(x * y for x, y in zip(a, b))

    want = 0.0
    for i, a in enumerate(rows):
        logits = {j: dot(a, b) / 0.5 for j, b in enumerate(rows) if j != i}  # 2B - 1 terms
        want -= math.log(math.exp(logits[(i + 2) % 4]) / sum(math.exp(v) for v in
                                                              logits.values()))
    assert nt_xent(z1, z2, 0.5).item() == pytest.approx(want / 4)
    # Identical, well separated views drive it towards 0, unlike a cosine InfoNCE at tau 1.
    z = torch.eye(4, dtype=torch.float64) * 10
    assert nt_xent(z, z, 1.0).item() < 1e-6
    with pytest.raises(ValueError, match="similarity"):
        nt_xent(z1, z2, similarity="l2")
