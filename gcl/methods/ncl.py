"""NCL: contrast each node with its structural and its semantic (prototype) neighbours."""
from __future__ import annotations

import torch

from gcl.graph import UIGraph
from gcl.losses import info_nce_all
from gcl.methods.lightgcn import LightGCNMethod
from gcl.view import View


def kmeans(x: torch.Tensor, k: int, iters: int = 25,
           generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means of the rows of :obj:`x` :obj:`[N, d]` from :obj:`k` distinct random
    rows (at most :obj:`N`), :obj:`iters` rounds (Faiss's default); an empty cluster keeps
    its centroid. Returns the centroids :obj:`[k, d]` and each row's cluster :obj:`[N]`."""
    k = min(k, len(x))
    start = torch.randperm(len(x), generator=generator)[:k].to(x.device)
    centroids = x[start].clone()
    for _ in range(iters):
        assign = torch.cdist(x, centroids).argmin(1)
        counts = torch.bincount(assign, minlength=k)
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        full = counts > 0
        centroids[full] = sums[full] / counts[full, None]
    return centroids, torch.cdist(x, centroids).argmin(1)


class NCL(LightGCNMethod):
    r"""NCL from `"Improving Graph Collaborative Filtering with Neighborhood-enriched
    Contrastive Learning" <https://arxiv.org/abs/2202.06200>`_ (Lin et al., WWW 2022),
    following RecBole-GNN's :obj:`recbole_gnn/model/general_recommender/ncl.py` and
    :obj:`properties/model/NCL.yaml` (the authors' code).

    LightGCN with BPR and L2, plus two contrastive terms on the batch's users and positive
    items, each summed over the batch's rows as the reference does (so the weights are
    per row). The *structural* term contrasts a node's layer-:math:`2k` embedding (its
    :math:`k`-hop neighbours of the same type) with its own layer-0 embedding, against
    all users (items) at layer 0; the *prototype* term contrasts its layer-0 embedding with
    its cluster's centroid, against all centroids, the clusters found by k-means
    (:func:`kmeans`) over the ID table at the start of every epoch:

    .. math::
        \mathcal{L} = \mathcal{L}_{BPR} + \lambda\mathcal{L}_{L2}
        + \lambda_{cl}\sum_{b}\left(\ell(\mathbf{e}^{(2k)}_{u_b}, \mathbf{E}^{(0)}_U)
        + \alpha\,\ell(\mathbf{e}^{(2k)}_{i_b}, \mathbf{E}^{(0)}_I)\right)
        + \lambda_{p}\sum_{b}\left(\ell(\mathbf{e}^{(0)}_{u_b}, \mathbf{C}_U)
        + \ell(\mathbf{e}^{(0)}_{i_b}, \mathbf{C}_I)\right)

    with :math:`\ell` InfoNCE against all rows of the second argument, cosine similarity
    at temperature :math:`\tau` (:func:`~gcl.losses.info_nce_all`). The prototype term
    joins after :obj:`warm_up` epochs. Defaults are the reference's.

    Args:
        num_users (int): number of users.
        num_items (int): number of items.
        dim (int): embedding size. (default: :obj:`64`)
        layers (int): propagation layers of the readout. (default: :obj:`3`)
        reg (float): L2 weight :math:`\lambda` (LightGCN's form). (default: :obj:`1e-4`)
        cl_weight (float): structural weight :math:`\lambda_{cl}`. (default: :obj:`1e-7`)
        proto_weight (float): prototype weight :math:`\lambda_p`. (default: :obj:`8e-8`)
        temperature (float): :math:`\tau`. (default: :obj:`0.1`)
        hyper_layers (int): :math:`k`; layer :math:`2k` is the structural neighbour.
            (default: :obj:`1`)
        alpha (float): weight :math:`\alpha` of the items' structural term.
            (default: :obj:`1.0`)
        num_clusters (int): prototypes per node type (at most the number of nodes).
            (default: :obj:`1000`)
        warm_up (int): epochs before the prototype term joins. (default: :obj:`20`)
        init_std (float or str): std of the normal initialisation of the ID table, or
            :obj:`"xavier"`. (default: :obj:`"xavier"`)
    """

    name = "ncl"
    capabilities = frozenset({"text", "cl_weight"})
    missing = {"projection_head": "ncl does not take a projection head",
               "momentum": "ncl contrasts each node with all users or items already, so a "
               "MoCo queue adds no negatives"}
    tuning_hint = "lower cl_weight or proto_weight, or raise temperature"

    def __init__(self, num_users: int, num_items: int, dim: int = 64, layers: int = 3,
                 reg: float = 1e-4, cl_weight: float = 1e-7, proto_weight: float = 8e-8,
                 temperature: float = 0.1, hyper_layers: int = 1, alpha: float = 1.0,
                 num_clusters: int = 1000, warm_up: int = 20,
                 init_std: float | str = "xavier") -> None:
        if min(cl_weight, proto_weight, alpha, warm_up) < 0 or temperature <= 0:
            raise ValueError(f"cl_weight, proto_weight, alpha and warm_up must be >= 0 and "
                             f"temperature > 0, got cl_weight={cl_weight}, proto_weight="
                             f"{proto_weight}, alpha={alpha}, warm_up={warm_up}, "
                             f"temperature={temperature}")
        if hyper_layers < 1 or num_clusters < 1:
            raise ValueError(f"hyper_layers and num_clusters must be >= 1, got "
                             f"hyper_layers={hyper_layers}, num_clusters={num_clusters}")
        super().__init__(num_users, num_items, dim, layers, reg, init_std)
        self.cl_weight, self.proto_weight, self.temperature = cl_weight, proto_weight, temperature
        self.hyper_layers, self.alpha = hyper_layers, alpha
        self.num_clusters, self.warm_up = num_clusters, warm_up
        # Epochs begun, a buffer so that a resumed fit knows when the prototypes join.
        self.register_buffer("epochs_begun", torch.zeros((), dtype=torch.long))
        self.prototypes: tuple[tuple[torch.Tensor, torch.Tensor], ...] | None = None

    def new_epoch(self, graph: UIGraph, generator: torch.Generator) -> None:
        super().new_epoch(graph, generator)
        self.epochs_begun += 1
        if self.proto_weight > 0 and self.epochs_begun > self.warm_up:
            with torch.no_grad():
                users, items = self.encoder.split(self.encoder.embedding.weight)
                self.prototypes = tuple(kmeans(x, self.num_clusters, generator=generator)
                                        for x in (users, items))

    def loss(self, graph: UIGraph, users: torch.Tensor, pos: torch.Tensor,
             neg: torch.Tensor) -> dict[str, torch.Tensor]:
        layers = self.encoder.propagate(graph)
        view = View.of(graph)
        for k in range(len(layers) - 1, 2 * self.hyper_layers):  # deeper than the readout
            layers.append(view.propagate(layers[-1], k))
        out = self.rec_loss(*self.encoder.readout(layers[: self.encoder.layers + 1]), users,
                            pos, neg)
        (e_u, e_i), (c_u, c_i) = (self.encoder.split(layers[0]),
                                  self.encoder.split(layers[2 * self.hyper_layers]))
        tau, n = self.temperature, len(users)
        out["cl"] = n * (info_nce_all(c_u[users], e_u, users, tau)
                         + self.alpha * info_nce_all(c_i[pos], e_i, pos, tau))
        out["loss"] = out["loss"] + self.cl_weight * out["cl"]
        if self.prototypes is not None and self.training:
            (cu, au), (ci, ai) = self.prototypes
            out["proto"] = n * (info_nce_all(e_u[users], cu, au[users], tau)
                                + info_nce_all(e_i[pos], ci, ai[pos], tau))
            out["loss"] = out["loss"] + self.proto_weight * out["proto"]
        return out

