import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch

from gcl.data import Interactions
from gcl.graph import UIGraph
from gcl.methods import Popularity, build_method
from gcl.metrics import evaluate, topk


def make_train() -> Interactions:
    # item counts: a 4, b 3, c 2, d 1, e 0 (e only exists in the id map)
    rows = [("u1", "a"), ("u2", "a"), ("u3", "a"), ("u4", "a"), ("u1", "b"), ("u2", "b"),
            ("u3", "b"), ("u1", "c"), ("u4", "c"), ("u4", "d"), ("u5", "e")]
    inter = Interactions.from_pandas(pd.DataFrame(rows, columns=["user", "item"]))
    return inter.select(inter.items != inter.item_index(["e"])[0])


def test_counts_are_train_item_counts():
    train = make_train()
    pop = Popularity(train.num_users, train.num_items)
    assert pop.counts.tolist() == [0.0] * 5
    pop.prepare(train, UIGraph.from_interactions(train))
    assert pop.counts.tolist() == [4.0, 3.0, 2.0, 1.0, 0.0]
    users, items = pop.embeddings(UIGraph.from_interactions(train))
    assert users.shape == (5, 1) and items.shape == (5, 1)
    scores = users @ items.T
    assert torch.equal(scores, torch.tensor([[4.0, 3.0, 2.0, 1.0, 0.0]]).expand(5, 5))


def test_ranks_by_train_counts_with_seen_items_filtered():
    train = make_train()
    graph = UIGraph.from_interactions(train)
    pop = build_method("pop", train.num_users, train.num_items, dim=64, layers=3)
    assert isinstance(pop, Popularity) and not pop.trainable
    pop.prepare(train, graph)
    ue, ie = pop.embeddings(graph)
    items, _ = topk(ue, ie, np.arange(5), 2, exclude=train.to_csr())
    names = [[train.item_ids[i] for i in row] for row in items.tolist()]
    # u1 saw a, b, c -> d, e ; u2 saw a, b -> c, d ; u4 saw a, c, d -> b, e ; u5 saw none
    assert names[0] == ["d", "e"]
    assert names[1] == ["c", "d"]
    assert names[2] == ["c", "d"]
    assert names[3] == ["b", "e"]
    assert names[4] == ["a", "b"]


def test_popularity_metrics():
    train = make_train()
    graph = UIGraph.from_interactions(train)
    pop = Popularity(train.num_users, train.num_items)
    pop.prepare(train, graph)
    ue, ie = pop.embeddings(graph)
    test = np.zeros((5, 5))
    test[4, 1] = 1  # u5's test item is b, ranked 2nd of all
    test[0, 4] = 1  # u1's test item is e, ranked 2nd of the unseen d, e
    got = evaluate(ue, ie, test=sp.csr_matrix(test),
                   exclude=train.to_csr(), k=(1, 2))
    assert got["users"] == 2
    assert got["recall@1"] == 0.0 and got["recall@2"] == 1.0 and got["mrr@2"] == 0.5
