"""XSimGCL: one noisy pass serves both the recommendation and the contrastive task."""
from __future__ import annotations

import torch

from gcl.augment.noise import EmbeddingNoise
from gcl.graph import UIGraph
from gcl.losses import cross_layer
from gcl.methods.contrastive import GraphCLMethod
from gcl.nn.lightgcn import LightGCN


class XSimGCL(GraphCLMethod):
    r"""XSimGCL from `"XSimGCL: Towards Extremely Simple Graph Contrastive Learning for
    Recommendation" <https://arxiv.org/abs/2209.02544>`_ (Yu et al., TKDE 2023).

    One LightGCN pass with SimGCL's noise (norm :obj:`eps`, new every batch) gives the final
    embeddings (mean of layers :math:`1..K`) for BPR, and the contrastive loss is InfoNCE
    between those and the embeddings of layer :math:`l^*` of the same pass
    (:func:`~gcl.losses.cross_layer`). Ranking uses a clean pass. Defaults are the paper's
    and SELFRec's (:obj:`model/graph/XSimGCL.py`, :obj:`conf/XSimGCL.yaml`, the authors'
    code, which this follows): 2 layers, Xavier-uniform start, :math:`\epsilon=0.2`,
    :math:`\lambda_{cl}=0.2`, :math:`\tau=0.15`, :math:`l^*=1`.

    With a MoCo momentum encoder (:obj:`moco=...`), the queries are layer :math:`l^*` of
    this pass and the keys the key encoder's final embeddings under the same noise draws:
    keys take no gradient, and XSimGCL needs the gradient through layer :math:`l^*`.

    Args:
        num_users (int): number of users.
        num_items (int): number of items.
        dim (int): embedding size. (default: :obj:`64`)
        layers (int): propagation layers. (default: :obj:`2`)
        reg (float): L2 weight. (default: :obj:`1e-4`)
        eps (float): noise norm. (default: :obj:`0.2`)
        cl_weight (float): :math:`\lambda_{cl}`. (default: :obj:`0.2`)
        temperature (float): :math:`\tau`. (default: :obj:`0.15`)
        cl_layer (int): :math:`l^*`, the layer contrasted with the final embeddings.
            (default: :obj:`1`)
        init_std (float or str): std of the normal initialisation of the ID table, or
            :obj:`"xavier"` (see :class:`~gcl.nn.LightGCN`). (default: :obj:`"xavier"`)
        cl_anchors (int, optional): at most this many users (and items) of the batch
            contrasted per step, a variant for large batches (see
            :meth:`GraphCLMethod.anchors`); :obj:`None` contrasts all, as the paper.
            (default: :obj:`None`)
    """

    name = "xsimgcl"
    tuning_hint = "lower cl_weight or eps, or raise temperature"

    def __init__(self, num_users: int, num_items: int, dim: int = 64, layers: int = 2,
                 reg: float = 1e-4, eps: float = 0.2, cl_weight: float = 0.2,
                 temperature: float = 0.15, cl_layer: int = 1,
                 init_std: float | str = "xavier",
                 cl_anchors: int | None = None) -> None:
        super().__init__(num_users, num_items, dim, layers, reg, EmbeddingNoise(eps),
                         cl_weight, temperature, init_std=init_std, cl_anchors=cl_anchors)
        if not 1 <= cl_layer <= layers:
            raise ValueError(f"cl_layer must be in 1..layers={layers}, got {cl_layer}")
        self.encoder.include_input = False
        self.eps, self.cl_layer = eps, cl_layer

    def loss(self, graph: UIGraph, users: torch.Tensor, pos: torch.Tensor,
             neg: torch.Tensor) -> dict[str, torch.Tensor]:
        gen = self.generator
        if self.momentum is not None:
            gen = gen if gen is not None else torch.Generator().manual_seed(
                int(torch.randint(2**62, ())))
            noise_state = gen.get_state()
        layers = self.encoder.propagate(self.augment(graph, gen))
        if self.head is None and self.momentum is None:
            return self.cross_layer_loss(layers, users, pos, neg)
        user_emb, item_emb = self.encoder.readout(layers)
        out = self.rec_loss(user_emb, item_emb, users, pos, neg)
        if self.momentum is not None:
            # Queries are layer l*, keys the key encoder's final embeddings under the same
            # noise draws: XSimGCL stops learning to rank when no gradient flows through
            # layer l* (the ablation's MoCo rows before this ranked below popularity), and MoCo's
            # keys take none.
            replay = torch.Generator(device=gen.device).set_state(noise_state)
            keys = self.key_pass(
                lambda enc: enc.readout(enc.propagate(self.augment(graph, replay))))
            cl = self.contrast(self.encoder.split(layers[self.cl_layer]), keys, users, pos)
        else:
            cl = self.contrast((user_emb, item_emb), self.encoder.split(layers[self.cl_layer]),
                               users, pos)
        return self.add_cl(out, cl)

    def cross_layer_loss(self, layers: list[torch.Tensor], users: torch.Tensor,
                         pos: torch.Tensor, neg: torch.Tensor) -> dict[str, torch.Tensor]:
        r"""BPR (with the method's loss terms) on the final embeddings of one noisy pass,
        :obj:`layers` (each :obj:`[U+I, d]`), plus :obj:`cl_weight` times the cross-layer
        InfoNCE of its anchors: the loss of :meth:`rec_loss` and
        :func:`~gcl.losses.cross_layer`, equal up to float rounding in the gradient.

        It reads the ranked rows, and then the anchors' rows, from the final embeddings of
        all nodes with one gather each, not from the user and item halves apart: the
        backward of every gather fills a gradient the size of the table it reads, and
        of every half one the size of both."""
        nu, b = self.num_users, len(users)
        enc = self.encoder
        final = (enc.readout_nodes(layers) if isinstance(enc, LightGCN)
                 else torch.cat(enc.readout(layers)))
        negs = neg.reshape(-1)
        e_u, e_pos, e_neg = final[torch.cat([users, nu + pos, nu + negs])].split(
            [b, b, len(negs)])
        out = self.ranking_loss(e_u, e_pos, e_neg.view(b, -1, final.shape[1]), users, pos, neg)
        out = self.add_terms(out, final[:nu], final[nu:], users, pos, neg)
        u, i = self.anchors(users), self.anchors(pos)
        nodes = torch.cat([u, nu + i])
        z_final, z_layer = final[nodes], layers[self.cl_layer][nodes]
        k = len(u)
        cl = (cross_layer(z_final[:k], z_layer[:k], self.temperature)
              + cross_layer(z_final[k:], z_layer[k:], self.temperature))
        return self.add_cl(out, cl)
