"""DirectAU: optimise alignment and uniformity of user and item embeddings directly."""
from __future__ import annotations

import torch

from gcl.graph import UIGraph
from gcl.losses import alignment, uniformity
from gcl.methods.lightgcn import LightGCNMethod


class DirectAU(LightGCNMethod):
    r"""DirectAU from `"Towards Representation Alignment and Uniformity in Collaborative
    Filtering" <https://arxiv.org/abs/2206.12811>`_ (Wang et al., KDD 2022), following
    SELFRec's :obj:`model/graph/DirectAU.py` and :obj:`conf/DirectAU.yaml`.

    No negatives and no BPR: the loss of a batch of (user, positive item) rows pulls each
    pair together on the unit sphere and spreads users, and items, apart
    (:func:`~gcl.losses.alignment`, :func:`~gcl.losses.uniformity` with :math:`t=2`),

    .. math::
        \mathcal{L} = \frac{1}{B}\sum_{b} \lVert \tilde{\mathbf{e}}_{u_b}
        - \tilde{\mathbf{e}}_{i_b} \rVert^2 + \frac{\gamma}{2}\left(
        \mathcal{L}_{unif}(\tilde{\mathbf{E}}_{U_B}) + \mathcal{L}_{unif}(\tilde{\mathbf{E}}_{I_B})
        \right) + \lambda \frac{\lVert \mathbf{E}_{U_B} \rVert_F + \lVert \mathbf{E}_{I_B}
        \rVert_F}{B^2}

    on the LightGCN embeddings of the batch's rows (:math:`\tilde{\cdot}` normalised; the
    last term is SELFRec's regulariser, on the unnormalised rows). :obj:`layers=0` is the
    MF encoder (RecBole-GNN's default for DirectAU). Defaults are SELFRec's: a 3-layer
    LightGCN, Xavier-uniform start, :math:`\gamma=2`, :math:`\lambda=10^{-4}`.

    Args:
        num_users (int): number of users.
        num_items (int): number of items.
        dim (int): embedding size. (default: :obj:`64`)
        layers (int): propagation layers; :obj:`0` for MF. (default: :obj:`3`)
        reg (float): :math:`\lambda`. (default: :obj:`1e-4`)
        gamma (float): weight :math:`\gamma` of uniformity. (default: :obj:`2.0`)
        init_std (float or str): std of the normal initialisation of the ID table, or
            :obj:`"xavier"`. (default: :obj:`"xavier"`)
    """

    name = "directau"
    tuning_hint = "lower gamma"

    def __init__(self, num_users: int, num_items: int, dim: int = 64, layers: int = 3,
                 reg: float = 1e-4, gamma: float = 2.0, init_std: float | str = "xavier") -> None:
        if gamma < 0 or reg < 0:
            raise ValueError(f"gamma and reg must be >= 0, got gamma={gamma}, reg={reg}")
        super().__init__(num_users, num_items, dim, layers, reg, init_std)
        self.gamma = gamma

    def loss(self, graph: UIGraph, users: torch.Tensor, pos: torch.Tensor,
             neg: torch.Tensor) -> dict[str, torch.Tensor]:
        user_emb, item_emb = self.encoder(graph)
        u, i = user_emb[users], item_emb[pos]
        align = alignment(u, i)
        # uniformity needs two rows; a last batch of one row has none to spread
        uniform = uniformity(u, i) if len(users) > 1 else align * 0.0
        reg = (u.norm() + i.norm()) / len(users) ** 2
        out = {"loss": align + self.gamma * uniform + self.reg * reg, "align": align,
               "uniform": uniform, "reg": reg}
        return self.add_terms(out, user_emb, item_emb, users, pos, neg)
