"""CL4SRec: next-item prediction plus contrast between augmented views of a user's sequence,
and its hybrid with a graph encoder."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gcl.augment.sequence import (
    PAD,
    SequenceCrop,
    SequenceMask,
    SequenceRandomChoice,
    SequenceReorder,
)
from gcl.data.interactions import Interactions
from gcl.data.sequence import user_sequences
from gcl.graph import UIGraph
from gcl.losses import info_nce, l2, nt_xent
from gcl.methods.base import Method
from gcl.nn.lightgcn import LightGCN
from gcl.nn.projection import ProjectionHead
from gcl.nn.sequence import SequenceEncoder


class SeqCL(Method):
    r"""CL4SRec from `"Contrastive Learning for Sequential Recommendation"
    <https://arxiv.org/abs/2010.14395>`_ (Xie et al., ICDE 2022).

    Each user's train items in time order (:func:`~gcl.data.sequence.user_sequences`, the
    last :obj:`max_len`) go through a :class:`~gcl.nn.SequenceEncoder` over an item ID
    table :math:`\mathbf{E}`. The loss of a batch of users is

    .. math::
        \mathcal{L} = -\frac{1}{T}\sum_{u,t} \log
        \frac{e^{\mathbf{h}_{u,t}^\top \mathbf{e}_{s_{u,t+1}}}}
        {\sum_{j \in \mathcal{I}} e^{\mathbf{h}_{u,t}^\top \mathbf{e}_j}}
        + \lambda_{cl}\,\mathcal{L}_{NCE}(g(\mathbf{h}_u^{1}), g(\mathbf{h}_u^{2}))
        + \lambda \mathcal{L}_{L2}

    next-item prediction with a full softmax over all items at every position :math:`t`
    (causal attention; with :obj:`causal=False` only the last item is predicted, from the
    rest), plus InfoNCE between the user vectors of two views of the sequence, each made by
    one of crop / mask / reorder drawn per sequence (:class:`~gcl.augment.SequenceCrop`,
    :class:`~gcl.augment.SequenceMask`, :class:`~gcl.augment.SequenceReorder`), and L2 on
    the batch's target item embeddings. :math:`g` is the projection head when there is one.
    A user's ranking vector is the encoding of the whole train sequence (after a fit with a
    valid log, train then valid: see :meth:`set_history`); items are the ID table. The
    trainer iterates over users (:meth:`epoch_rows`), one sequence each per epoch, in
    batches of similar lengths. Defaults follow CL4SRec as in DuoRec's RecBole code
    (RuihongQiu/DuoRec, :obj:`recbole/model/sequential_recommender/cl4srec.py`,
    :obj:`seq.yaml`): 2 layers, 2 heads, dropout 0.5, :math:`\lambda_{cl}=0.1`, :math:`\tau=1`,
    :math:`\eta=0.6`, :math:`\gamma=0.3`, :math:`\beta=0.6`, and its contrastive loss,
    NT-Xent with dot products over the :math:`2B` augmented sequences of the batch
    (:func:`~gcl.losses.nt_xent`: each has its twin as positive and the other
    :math:`2B-2` as negatives). :obj:`cl_loss="info-nce"`, a variant, is SELFRec's
    (:obj:`model/sequential/CL4SRec.py`): cosine InfoNCE from the first view's :math:`B`
    anchors against the second view only (:func:`~gcl.losses.info_nce`).

    Args:
        num_users (int): number of users.
        num_items (int): number of items.
        dim (int): embedding size. (default: :obj:`64`)
        layers (int): Transformer layers. (default: :obj:`2`)
        reg (float): L2 weight :math:`\lambda`. (default: :obj:`0.0`)
        heads (int): attention heads. (default: :obj:`2`)
        max_len (int): most recent items kept per user. (default: :obj:`50`)
        dropout (float): encoder dropout. (default: :obj:`0.5`)
        causal (bool): causal attention. (default: :obj:`True`)
        crop (float): crop ratio :math:`\eta`. (default: :obj:`0.6`)
        mask (float): mask ratio :math:`\gamma`. (default: :obj:`0.3`)
        reorder (float): reorder ratio :math:`\beta`. (default: :obj:`0.6`)
        cl_weight (float): :math:`\lambda_{cl}`. (default: :obj:`0.1`)
        temperature (float): InfoNCE temperature :math:`\tau`. (default: :obj:`1.0`)
        cl_loss (str): :obj:`"nt-xent"` or :obj:`"info-nce"`. (default: :obj:`"nt-xent"`)
    """

    name = "seq-cl"
    capabilities = frozenset({"projection_head", "sequences", "cl_weight"})
    missing = {"momentum": "moco is not available for sequence methods yet"}
    tuning_hint = "lower cl_weight or raise temperature, or milder crop / mask / reorder"

    def __init__(self, num_users: int, num_items: int, dim: int = 64, layers: int = 2,
                 reg: float = 0.0, heads: int = 2, max_len: int = 50, dropout: float = 0.5,
                 causal: bool = True, crop: float = 0.6, mask: float = 0.3,
                 reorder: float = 0.6, cl_weight: float = 0.1, temperature: float = 1.0,
                 cl_loss: str = "nt-xent") -> None:
        super().__init__(num_users, num_items)
        if cl_loss not in ("nt-xent", "info-nce"):
            raise ValueError(f"cl_loss must be 'nt-xent' or 'info-nce', got {cl_loss!r}")
        self.cl_loss = cl_loss
        if cl_weight < 0 or temperature <= 0 or reg < 0:
            raise ValueError(f"cl_weight and reg must be >= 0 and temperature > 0, got "
                             f"cl_weight={cl_weight}, reg={reg}, temperature={temperature}")
        self.dim, self.reg, self.cl_weight, self.temperature = dim, reg, cl_weight, temperature
        self.causal = causal
        self.sequence = SequenceEncoder(dim, layers, heads, max_len, dropout, causal)
        self.augment = SequenceRandomChoice([SequenceCrop(crop), SequenceMask(mask),
                                             SequenceReorder(reorder)])
        self.items = self.make_items(num_users, num_items, dim, layers)
        self.head: ProjectionHead | None = None
        self.seqs: torch.Tensor | None = None  # data, not weights: rebuilt by prepare()
        self.generator: torch.Generator | None = None

    def make_items(self, num_users: int, num_items: int, dim: int, layers: int) -> nn.Module:
        table = nn.Embedding(num_items, dim)
        nn.init.normal_(table.weight, std=0.02)
        return table

    def add_projection_head(self, layers: int) -> None:
        """Adds a :class:`~gcl.nn.projection.ProjectionHead` used inside the contrastive
        loss only."""
        self.head = ProjectionHead(self.dim, layers)

    def train(self, mode: bool = True) -> SeqCL:
        super().train(mode)
        self.augment.train(mode)
        return self

    def prepare(self, train: Interactions, graph: UIGraph) -> None:
        self.seqs = user_sequences(train, self.sequence.max_len).to(graph.device)

    def set_history(self, log: Interactions) -> None:
        """From now on, users are encoded from their sequences in :obj:`log` (e.g. train and
        valid together, the whole history known when ranking for test)."""
        self.seqs = user_sequences(log, self.sequence.max_len).to(self.seqs.device)

    def new_epoch(self, graph: UIGraph, generator: torch.Generator) -> None:
        self.generator = generator

    def epoch_rows(self, train: Interactions, generator: torch.Generator,
                   batch_size: int) -> torch.Tensor:
        """One train row per user with interactions (its first in the log, which need not be
        grouped by user): the trainer's batches are batches of users. Users are bucketed by
        sequence length (sorted by length plus noise, so that a batch pads little) and the
        batches come in random order."""
        first = np.unique(train.users, return_index=True)[1]
        lengths = (self.seqs != PAD).sum(1).cpu()[torch.from_numpy(train.users[first])]
        noise = torch.rand(len(first), generator=generator) * 2
        order = torch.argsort(lengths.float() + noise)
        batches = order.split(batch_size)
        shuffled = torch.randperm(len(batches), generator=generator).tolist()
        return torch.from_numpy(first)[torch.cat([batches[b] for b in shuffled])]

    def tables(self, graph: UIGraph) -> tuple[torch.Tensor | None, torch.Tensor]:
        """Graph user embeddings (or :obj:`None`) and the item embeddings :obj:`[I, d]`."""
        return None, self.items.weight

    def encode(self, seqs: torch.Tensor, item_emb: torch.Tensor) -> torch.Tensor:
        """User vectors :obj:`[B, d]` of a padded batch, trimmed to its longest sequence."""
        width = max(1, int((seqs != PAD).sum(1).max()))
        return self.sequence(seqs[:, :width], item_emb)

    def next_item(self, seqs: torch.Tensor,
                  item_emb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Full-softmax cross-entropy of next-item prediction over a batch of sequences, and
        the target items."""
        lengths = (seqs != PAD).sum(1)
        width = int(lengths.max())
        if not self.causal:  # predict each sequence's last item from the rest
            keep = lengths >= 2
            rest = seqs[keep].clone()
            rest[torch.arange(len(rest)), lengths[keep] - 1] = PAD
            h, target = self.encode(rest, item_emb), seqs[keep, lengths[keep] - 1]
        else:
            out = self.sequence(seqs[:, : max(1, width - 1)], item_emb, all_positions=True)
            target = seqs[:, 1:width]
            valid = target != PAD
            h, target = out[:, : target.shape[1]][valid], target[valid]
        if len(target) == 0:
            return item_emb.sum() * 0.0, target
        return F.cross_entropy(h @ item_emb.T, target), target

    def contrast(self, seqs: torch.Tensor, item_emb: torch.Tensor,
                 graph_users: torch.Tensor | None) -> torch.Tensor:
        """NT-Xent (or InfoNCE) between the user vectors of two augmented views of
        :obj:`seqs`."""
        z1 = self.encode(self.augment(seqs, self.generator), item_emb)
        z2 = self.encode(self.augment(seqs, self.generator), item_emb)
        project = (lambda z: z) if self.head is None else self.head
        loss = nt_xent if self.cl_loss == "nt-xent" else info_nce
        return loss(project(z1), project(z2), self.temperature)

    def loss(self, graph: UIGraph, users: torch.Tensor, pos: torch.Tensor,
             neg: torch.Tensor) -> dict[str, torch.Tensor]:
        users = users.unique()
        graph_users, item_emb = self.tables(graph)
        seqs = self.seqs[users]
        ce, target = self.next_item(seqs, item_emb)
        reg = l2(item_emb[target], batch_size=max(1, len(target)))
        out = {"loss": ce + self.reg * reg, "ce": ce, "reg": reg}
        if self.cl_weight > 0:
            g = None if graph_users is None else graph_users[users]
            out["cl"] = self.contrast(seqs, item_emb, g)
            out["loss"] = out["loss"] + self.cl_weight * out["cl"]
        return out

    def embeddings(self, graph: UIGraph) -> tuple[torch.Tensor, torch.Tensor]:
        if self.seqs is None:
            raise RuntimeError("prepare(train, graph) builds the sequences; call it first")
        _, item_emb = self.tables(graph)
        order = (self.seqs != PAD).sum(1).argsort()  # chunks of similar lengths pad little
        users = torch.empty(len(order), item_emb.shape[1], dtype=item_emb.dtype,
                            device=item_emb.device)
        for chunk in order.split(2048):
            users[chunk] = self.encode(self.seqs[chunk], item_emb)
        return users, item_emb


class SeqGraphCL(SeqCL):
    r"""CL4SRec's sequence model on a graph encoder's item embeddings, contrasted with the
    graph's view of each user: a LightGCN pass over the train graph gives user and item
    embeddings :math:`\mathbf{Z}_U, \mathbf{Z}_I`; the :class:`~gcl.nn.SequenceEncoder`
    reads :math:`\mathbf{Z}_I`, next-item prediction scores against :math:`\mathbf{Z}_I`,
    and the contrastive loss is InfoNCE between each user's sequence vector and graph
    vector:

    .. math::
        \mathcal{L} = \mathcal{L}_{CE} + \lambda_{cl}\,\mathcal{L}_{NCE}(g(\mathbf{h}_u),
        g(\mathbf{z}_u)) + \lambda \mathcal{L}_{L2}.

    Ranking scores all items :math:`\mathbf{Z}_I` with the sequence vector of the user's
    whole train sequence.

    Args:
        num_users (int): number of users.
        num_items (int): number of items.
        dim (int): embedding size. (default: :obj:`64`)
        layers (int): LightGCN propagation layers. (default: :obj:`3`)
        reg (float): L2 weight. (default: :obj:`0.0`)
        seq_layers (int): Transformer layers. (default: :obj:`2`)
        cl_weight (float): :math:`\lambda_{cl}`. (default: :obj:`0.1`)
        temperature (float): :math:`\tau`. (default: :obj:`0.2`)
        **kwargs: the sequence settings of :class:`SeqCL` (:obj:`heads`, :obj:`max_len`,
            :obj:`dropout`, :obj:`causal`); crop / mask / reorder are not used.
    """

    name = "seq-cl+graph"

    def __init__(self, num_users: int, num_items: int, dim: int = 64, layers: int = 3,
                 reg: float = 0.0, seq_layers: int = 2, cl_weight: float = 0.1,
                 temperature: float = 0.2, **kwargs) -> None:
        unknown = set(kwargs) - {"heads", "max_len", "dropout", "causal"}
        if unknown:
            raise TypeError(f"unknown setting(s) {sorted(unknown)} for {self.name!r}")
        self.graph_layers = layers
        super().__init__(num_users, num_items, dim, seq_layers, reg, cl_weight=cl_weight,
                         temperature=temperature, **kwargs)

    def make_items(self, num_users: int, num_items: int, dim: int, layers: int) -> nn.Module:
        return LightGCN(num_users, num_items, dim, self.graph_layers)

    def tables(self, graph: UIGraph) -> tuple[torch.Tensor | None, torch.Tensor]:
        return self.items(graph)

    def contrast(self, seqs: torch.Tensor, item_emb: torch.Tensor,
                 graph_users: torch.Tensor | None) -> torch.Tensor:
        """InfoNCE between each user's sequence vector and graph vector."""
        project = (lambda z: z) if self.head is None else self.head
        return info_nce(project(self.encode(seqs, item_emb)), project(graph_users),
                        self.temperature)
