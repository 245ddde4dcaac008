"""A small Transformer encoder that turns a user's item sequence into a user vector."""
from __future__ import annotations

import torch
from torch import nn

from gcl.augment.sequence import MASK, PAD


class SequenceEncoder(nn.Module):
    r"""Self-attentive sequence encoder in the manner of SASRec, `"Self-Attentive Sequential
    Recommendation" <https://arxiv.org/abs/1808.09781>`_ (Kang & McAuley, ICDM 2018), as
    CL4SRec uses it:

    .. math::
        \mathbf{H}^{(0)} = \mathrm{Dropout}(\mathbf{E}_{s_{1..n}} + \mathbf{P}_{1..n}),
        \qquad \mathbf{H} = \mathrm{LN}(\mathrm{Transformer}(\mathbf{H}^{(0)})),

    with :math:`\mathbf{E}` the item embeddings (passed in, so they can be an ID table or a
    graph encoder's output), :math:`\mathbf{P}` learned positions, pre-norm Transformer
    encoder layers (:class:`torch.nn.TransformerEncoderLayer`), and attention that is causal
    (position :math:`t` sees :math:`1..t`) or bidirectional, never on padding. The user
    vector is :math:`\mathbf{h}_n`, the output at the sequence's last item.

    Sequences are left-aligned and padded on the right with :obj:`PAD` (-1); :obj:`MASK`
    (-2) marks a masked item (:class:`~gcl.augment.SequenceMask`), which gets a learned
    embedding. An empty sequence gets the output of a lone padding position.

    Args:
        dim (int): embedding size :math:`d`. (default: :obj:`64`)
        layers (int): Transformer layers. (default: :obj:`2`)
        heads (int): attention heads; must divide :obj:`dim`. (default: :obj:`2`)
        max_len (int): longest sequence (number of positions). (default: :obj:`50`)
        dropout (float): dropout on inputs, attention and feed-forward. (default: :obj:`0.2`)
        causal (bool): causal attention (else bidirectional). (default: :obj:`True`)

    Shapes:
        :obj:`seqs` :obj:`[B, L]` with :obj:`L <= max_len`, :obj:`item_emb` :obj:`[I, d]`;
        output :obj:`[B, d]`, or :obj:`[B, L, d]` with :obj:`all_positions=True`.
    """

    def __init__(self, dim: int = 64, layers: int = 2, heads: int = 2, max_len: int = 50,
                 dropout: float = 0.2, causal: bool = True) -> None:
        super().__init__()
        if dim < 1 or layers < 1 or max_len < 1 or heads < 1 or dim % heads:
            raise ValueError(f"need dim, layers, max_len >= 1 and heads dividing dim, got "
                             f"dim={dim}, layers={layers}, heads={heads}, max_len={max_len}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.dim, self.max_len, self.causal = dim, max_len, causal
        self.position = nn.Embedding(max_len, dim)
        self.mask_token = nn.Parameter(torch.zeros(dim))
        nn.init.normal_(self.position.weight, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=dim, dropout=dropout,
                                           activation="gelu", batch_first=True,
                                           norm_first=True)
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, seqs: torch.Tensor, item_emb: torch.Tensor,
                all_positions: bool = False) -> torch.Tensor:
        if seqs.dim() != 2 or seqs.shape[1] > self.max_len:
            raise ValueError(f"seqs must have shape [B, L] with L <= max_len={self.max_len}, "
                             f"got {tuple(seqs.shape)}")
        if item_emb.shape[-1] != self.dim:
            raise ValueError(f"item embeddings must have size {self.dim}, got "
                             f"{item_emb.shape[-1]}")
        b, width = seqs.shape
        pad = seqs == PAD
        lengths = (~pad).sum(1)
        pad[:, 0] &= lengths > 0  # an empty sequence attends to its first (padding) slot
        x = item_emb[seqs.clamp(min=0)] * (seqs >= 0).unsqueeze(-1)
        x = torch.where((seqs == MASK).unsqueeze(-1), self.mask_token.to(x.dtype), x)
        x = self.dropout(x + self.position.weight[:width])
        attn = None
        if self.causal:
            attn = torch.ones(width, width, dtype=torch.bool, device=seqs.device).triu(1)
        h = self.norm(self.transformer(x, mask=attn, src_key_padding_mask=pad))
        if all_positions:
            return h
        return h[torch.arange(b, device=seqs.device), (lengths - 1).clamp(min=0)]
