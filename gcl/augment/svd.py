r"""LightGCL's SVD-reconstructed view of the graph."""
from __future__ import annotations

import numbers

import numpy as np
import torch

from gcl.augment.base import Augmenter
from gcl.graph import UIGraph
from gcl.view import View

Factors = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def _user_item_block(graph: UIGraph) -> torch.Tensor:
    r"""The normalised user–item block :math:`\hat{\mathbf{A}}_{UI}` :obj:`[U, I]` as a sparse
    COO tensor on the graph's device."""
    block = graph.adj[: graph.num_users, graph.num_users:].tocoo()
    idx = torch.from_numpy(np.stack([block.row, block.col]).astype(np.int64))
    val = torch.from_numpy(block.data.astype(np.float32))
    return torch.sparse_coo_tensor(idx, val, (graph.num_users, graph.num_items),
                                   is_coalesced=True, check_invariants=False).to(graph.device)


def _seeded_svd_lowrank(a: torch.Tensor, q: int, niter: int, seed: int) -> Factors:
    """:func:`torch.svd_lowrank` with its random projection seeded by :obj:`seed`, leaving
    torch's global RNG state as it was."""
    dev = a.device
    if dev.type == "cuda":
        index = dev.index if dev.index is not None else torch.cuda.current_device()
        with torch.random.fork_rng(devices=[index]):
            torch.cuda.default_generators[index].manual_seed(seed)
            return torch.svd_lowrank(a, q=q, niter=niter)
    with torch.random.fork_rng(devices=[]):
        if dev.type == "cpu":
            torch.default_generator.manual_seed(seed)
        else:  # pragma: no cover - other accelerators: seed them all (not restored)
            torch.manual_seed(seed)
        return torch.svd_lowrank(a, q=q, niter=niter)


class SVDView(Augmenter):
    r"""The low-rank SVD view from `"LightGCL: Simple Yet Effective Graph Contrastive Learning
    for Recommendation" <https://arxiv.org/abs/2302.08191>`_ (Cai et al., ICLR 2023).

    A rank-:math:`q` approximation of the normalised user–item block of the adjacency,
    computed with randomised SVD (:func:`torch.svd_lowrank`),

    .. math::
        \hat{\mathbf{A}}_{UI} \approx \mathbf{U}_q \mathbf{S}_q \mathbf{V}_q^\top, \qquad
        \mathbf{U}_q \in \mathbb{R}^{U \times q},\ \mathbf{V}_q \in \mathbb{R}^{I \times q},

    replaces propagation over the graph:

    .. math::
        \mathbf{G}_U^{(k+1)} = \mathbf{U}_q \mathbf{S}_q (\mathbf{V}_q^\top
        \mathbf{H}_I^{(k)}), \qquad
        \mathbf{G}_I^{(k+1)} = \mathbf{V}_q \mathbf{S}_q (\mathbf{U}_q^\top
        \mathbf{H}_U^{(k)})

    evaluated right to left, so it costs :math:`O((U + I) q d)` and never forms a dense
    :math:`U \times I` (or :math:`N \times N`) matrix. (LightGCL's code feeds each SVD layer
    the *main* graph's previous layer; in a :class:`~gcl.view.View` the SVD view propagates
    its own layers.)

    The factors are computed once per graph and cached (keyed on the graph object), i.e.
    fixed for the whole fit; :obj:`per = "epoch"` only says that re-making the view is
    cheap. The random projection of :func:`torch.svd_lowrank` is seeded with :obj:`seed`
    without touching torch's global RNG state or the training generator, so the factors are
    a function of the graph alone: a resumed fit gets the same ones. :attr:`mask` is
    :obj:`None`.

    Args:
        rank (int): :math:`q`, the rank of the approximation, at most
            :math:`\min(U, I)`. (default: :obj:`5`, the paper's value)
        niter (int): subspace (power) iterations of :func:`torch.svd_lowrank`; more is
            more accurate. (default: :obj:`2`, torch's and the paper's code's default)
        seed (int): seed of the random projection. (default: :obj:`0`)

    Shapes:
        - **input:** a graph or :class:`~gcl.view.View` with :math:`U` users and :math:`I`
          items
        - **output:** a :class:`~gcl.view.View` whose propagation maps :obj:`[U+I, d]` to
          :obj:`[U+I, d]`; :attr:`factors` are :math:`(\mathbf{U}_q, \mathbf{s}_q,
          \mathbf{V}_q)` of shapes :obj:`[U, q]`, :obj:`[q]`, :obj:`[I, q]`
    """

    per = "epoch"

    def __init__(self, rank: int = 5, niter: int = 2, seed: int = 0) -> None:
        super().__init__()
        for name, val, low in (("rank", rank, 1), ("niter", niter, 0)):
            if isinstance(val, bool) or not isinstance(val, numbers.Integral) or val < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {val!r}")
        self.rank, self.niter, self.seed = int(rank), int(niter), int(seed)
        self._graph: UIGraph | None = None
        self._factors: Factors | None = None

    @property
    def factors(self) -> Factors | None:
        r"""The cached :math:`(\mathbf{U}_q, \mathbf{s}_q, \mathbf{V}_q)`, or :obj:`None`."""
        return self._factors

    def fit(self, graph: UIGraph, generator: torch.Generator | None = None) -> Factors:
        """The factors of :obj:`graph`, computed unless cached for this very graph object
        (:obj:`generator` is not used: the factors depend on the graph and :obj:`seed`)."""
        if self._graph is graph and self._factors is not None:
            return self._factors
        if self.rank > min(graph.num_users, graph.num_items):
            raise ValueError(f"rank={self.rank} exceeds min(num_users, num_items) = "
                             f"{min(graph.num_users, graph.num_items)}")
        u, s, v = _seeded_svd_lowrank(_user_item_block(graph), self.rank, self.niter,
                                     self.seed)
        self._graph, self._factors = graph, (u, s, v)
        return self._factors

    def augment(self, view: View, generator: torch.Generator | None) -> View:
        self.mask = None
        u, s, v = self.fit(view.graph, generator)
        num_users = view.graph.num_users
        us, vs = u * s, v * s

        def propagate_fn(h: torch.Tensor, layer: int) -> torch.Tensor:
            hu, hi = h[:num_users], h[num_users:]
            a, b, ut, vt = (t.to(device=h.device, dtype=h.dtype) for t in (us, vs, u, v))
            return torch.cat([a @ (vt.T @ hi), b @ (ut.T @ hu)], dim=0)

        return view.replace(propagate_fn=propagate_fn)
