r"""The user–item graph in one homogeneous node index, with sparse propagation backends.

Users are nodes :obj:`0..U-1` and items :obj:`U..U+I-1`. That offset is internal: nothing
outside the package sees it.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch

from gcl.data.interactions import Interactions


def _edges(num_users: int, num_items: int, users: np.ndarray, items: np.ndarray,
           weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each distinct user–item pair once, as (user index, item node index, weight): weight 1,
    or with :obj:`weights` the sum of the weights of the pair's rows."""
    keys = users.astype(np.int64) * num_items + items
    if weights is None:
        pairs = np.unique(keys)
        val = np.ones(len(pairs))
    else:
        pairs, at = np.unique(keys, return_inverse=True)
        val = np.bincount(at.ravel(), weights=np.asarray(weights, dtype=np.float64),
                          minlength=len(pairs))
    return pairs // num_items, pairs % num_items + num_users, val


def node_degrees(num_users: int, num_items: int, users: np.ndarray, items: np.ndarray,
                 weights: np.ndarray | None = None) -> np.ndarray:
    r"""The degree :math:`d` of every node of the graph :func:`normalized_adjacency` builds,
    shape :obj:`[U+I]` float64: distinct neighbours, or with :obj:`weights` the sum of the
    edge weights."""
    u, i, val = _edges(num_users, num_items, users, items, weights)
    return np.bincount(np.concatenate([u, i]), weights=np.concatenate([val, val]),
                       minlength=num_users + num_items).astype(np.float64)


def normalized_adjacency(num_users: int, num_items: int, users: np.ndarray,
                         items: np.ndarray, weights: np.ndarray | None = None) -> sp.csr_matrix:
    r"""The symmetric normalised adjacency :math:`\mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}`
    of the bipartite graph, shape :obj:`[U+I, U+I]`, with :math:`1/\sqrt{d_u d_i}` on each
    user–item edge in both directions (isolated nodes get an empty row).

    With :obj:`weights` (one per row of :obj:`users`, e.g. click counts, summed over a
    pair's rows) :math:`\mathbf{A}` holds them, :math:`a_{ui} = w_{ui}`, the degrees are
    weighted, :math:`d_u = \sum_i w_{ui}`, and each edge carries :math:`w_{ui} /
    \sqrt{d_u d_i}`; without, every distinct pair weighs 1."""
    n = num_users + num_items
    u, i, val = _edges(num_users, num_items, users, items, weights)
    deg = np.bincount(np.concatenate([u, i]), weights=np.concatenate([val, val]), minlength=n)
    inv = np.zeros(n)
    inv[deg > 0] = deg[deg > 0] ** -0.5
    w = inv[u] * inv[i]
    if weights is not None:
        w = val * w
    w = w.astype(np.float32)
    adj = sp.csr_matrix((np.concatenate([w, w]), (np.concatenate([u, i]), np.concatenate([i, u]))),
                        shape=(n, n))
    adj.sort_indices()
    return adj


class _SymmetricSpMM(torch.autograd.Function):
    """:math:`\\mathbf{A}\\mathbf{X}` with backward :math:`\\mathbf{A}\\mathbf{G}`: valid since
    the normalised adjacency is symmetric, and much faster than torch's generic backward."""

    @staticmethod
    def forward(ctx, fn: Callable, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        ctx.fn = fn
        return fn(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return None, ctx.fn(grad.contiguous())


class _RowSpMM(torch.autograd.Function):
    """:math:`\\hat{\\mathbf{A}}_{S,:}\\mathbf{X}` with backward
    :math:`\\hat{\\mathbf{A}}_{S,:}^\top\\mathbf{G}`, both as CSR products."""

    @staticmethod
    def forward(ctx, rows_mat: torch.Tensor, cols_mat: torch.Tensor,  # type: ignore[override]
                x: torch.Tensor) -> torch.Tensor:
        ctx.cols_mat = cols_mat
        return csr_mm(rows_mat, x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):  # type: ignore[override]
        return None, None, csr_mm(ctx.cols_mat, grad.contiguous())


def csr_tensor(adj: sp.csr_matrix, device: torch.device | str = "cpu") -> torch.Tensor:
    r""":obj:`adj` as a :obj:`torch.sparse_csr_tensor` on :obj:`device`, for
    :func:`csr_mm`. On the CPU its indices are 32-bit where every index fits: MKL's product
    reads those as they are, and copies 64-bit ones down to 32 bits on every product."""
    device = torch.device(device)
    small = device.type == "cpu" and max(adj.shape[1], adj.nnz) < 2**31
    index = np.int32 if small else np.int64
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(adj.indptr.astype(index)),
            torch.from_numpy(adj.indices.astype(index)),
            torch.from_numpy(adj.data), size=adj.shape, check_invariants=False,
        ).to(device)


def csr_mm(mat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""The product :math:`\mathbf{A}\mathbf{X}` of a sparse CSR matrix :obj:`mat`
    (:obj:`[N, M]`, from :func:`csr_tensor`) and a dense :obj:`x` (:obj:`[M, d]`, the same
    dtype), shape :obj:`[N, d]`. On the CPU it is written straight into a new, unfilled
    output (:func:`torch.addmm` with :obj:`beta=0`, which never reads it): the same values,
    bit for bit, as :obj:`mat @ x`, without zero-filling and copying an :obj:`[N, d]`
    result on every product."""
    if mat.device.type != "cpu" or x.requires_grad and torch.is_grad_enabled():
        return mat @ x
    out = torch.empty(mat.shape[0], x.shape[1], dtype=x.dtype)
    return torch.addmm(out, mat, x, beta=0, out=out)


class TorchCSR:
    """Propagation with a :obj:`torch.sparse_csr_tensor` (the default backend)."""

    name = "torch"

    def __init__(self, adj: sp.csr_matrix, device: torch.device) -> None:
        self.mat = csr_tensor(adj, device)

    def _mm(self, x: torch.Tensor) -> torch.Tensor:
        if x.dtype != self.mat.dtype:
            return csr_mm(self.mat, x.to(self.mat.dtype)).to(x.dtype)
        return csr_mm(self.mat, x)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return _SymmetricSpMM.apply(self._mm, x)


class ScipyCSR:
    """Propagation with scipy's CSR product behind a custom autograd function (CPU only)."""

    name = "scipy"

    def __init__(self, adj: sp.csr_matrix, device: torch.device) -> None:
        if device.type != "cpu":
            raise ValueError("the 'scipy' backend runs on the CPU only")
        self.adj = adj

    def _mm(self, x: torch.Tensor) -> torch.Tensor:
        out = self.adj @ x.detach().numpy().astype(np.float32, copy=False)
        return torch.from_numpy(np.ascontiguousarray(out)).to(x.dtype)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return _SymmetricSpMM.apply(self._mm, x)


class ScatterCSR:
    """Propagation with torch-scatter's :obj:`segment_csr` (the :obj:`scatter` extra)."""

    name = "scatter"

    def __init__(self, adj: sp.csr_matrix, device: torch.device) -> None:
        try:
            from torch_scatter import segment_csr
        except ImportError as e:  # pragma: no cover - depends on the extra
            raise ImportError("the 'scatter' backend needs torch-scatter: "
                              "pip install 'gcl[scatter]'") from e
        self.segment_csr = segment_csr
        self.indptr = torch.from_numpy(adj.indptr.astype(np.int64)).to(device)
        self.col = torch.from_numpy(adj.indices.astype(np.int64)).to(device)
        self.w = torch.from_numpy(adj.data).to(device).unsqueeze(-1)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.segment_csr(x[self.col] * self.w.to(x.dtype), self.indptr, reduce="sum")


class PyGMessagePassing:
    """Propagation with PyG's :class:`~torch_geometric.nn.conv.LGConv` message passing over
    the already normalised edge weights."""

    name = "pyg"

    def __init__(self, adj: sp.csr_matrix, device: torch.device) -> None:
        from torch_geometric.nn import LGConv

        coo = adj.tocoo()
        # LGConv aggregates messages from edge_index[0] into edge_index[1].
        self.edge_index = torch.from_numpy(np.stack([coo.col, coo.row]).astype(np.int64)).to(device)
        self.w = torch.from_numpy(coo.data).to(device)
        self.conv = LGConv(normalize=False)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x, self.edge_index, self.w.to(x.dtype))


BACKENDS = {b.name: b for b in (TorchCSR, ScipyCSR, ScatterCSR, PyGMessagePassing)}
_PICKED: dict[tuple, str] = {}


def pick_backend(adj: sp.csr_matrix, device: torch.device | str = "cpu", dim: int = 64,
                 repeats: int = 3) -> str:
    r"""The fastest propagation backend for this graph on this device, by timing one product
    :math:`\hat{\mathbf{A}}\mathbf{X}` (:obj:`X` of shape :obj:`[N, dim]`) per candidate,
    median of :obj:`repeats`: :obj:`"torch"` and :obj:`"scipy"` on CPU, :obj:`"torch"` and
    :obj:`"pyg"` on GPU, and :obj:`"scatter"` where torch-scatter is installed. PyG's
    message passing is not tried on CPU, where it was measured 27x slower than the others
    on gowalla. The answer is kept per device and graph size, so subgraphs reuse it.

    Args:
        adj (scipy.sparse.csr_matrix): the normalised adjacency, shape :obj:`[N, N]`.
        device (torch.device or str): where propagation will run. (default: :obj:`"cpu"`)
        dim (int): columns of the timed input. (default: :obj:`64`)
        repeats (int): timed products per candidate. (default: :obj:`3`)
    """
    device = torch.device(device)
    key = (str(device), adj.shape, adj.nnz, dim)
    if key in _PICKED:
        return _PICKED[key]
    names = ["torch", "scipy"] if device.type == "cpu" else ["torch", "pyg"]
    try:
        import torch_scatter  # noqa: F401
        names.append("scatter")
    except ImportError:
        pass
    # A generator of its own: the global one seeds the model's weights.
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(adj.shape[0], dim, generator=gen).to(device)
    times = {}
    for name in names:
        prop = BACKENDS[name](adj, device)
        prop(x)  # warm-up (kernels, caches)
        runs = []
        for _ in range(repeats):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            t = time.perf_counter()
            prop(x)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            runs.append(time.perf_counter() - t)
        times[name] = sorted(runs)[len(runs) // 2]
    _PICKED[key] = min(times, key=times.get)
    return _PICKED[key]


class UIGraph:
    r"""The train graph of a log, normalised and ready for sparse propagation.

    Args:
        num_users (int): number of users :math:`U`.
        num_items (int): number of items :math:`I`.
        users (np.ndarray): user index of each edge, shape :obj:`[E]`.
        items (np.ndarray): item index of each edge, shape :obj:`[E]`.
        backend (str): one of :obj:`"torch"` (torch.sparse CSR), :obj:`"scipy"`,
            :obj:`"scatter"` (torch-scatter), :obj:`"pyg"` (LGConv message passing) or
            :obj:`"auto"` (the fastest here, measured once at start-up by
            :func:`pick_backend`; :attr:`backend` then names the one picked). :obj:`"auto"`
            is not the default: :obj:`"torch"` was the fastest on CPU for gowalla
            (``benchmarks/results/speed.md``), and a choice that can differ between runs
            would change results by float rounding.
            (default: :obj:`"torch"`)
        device (torch.device or str): where propagation runs. (default: :obj:`"cpu"`)
        weights (np.ndarray, optional): a weight per edge, shape :obj:`[E]` (e.g. click
            counts, see :func:`normalized_adjacency`); :obj:`None` weighs every distinct
            pair 1. (default: :obj:`None`)
    """

    def __init__(self, num_users: int, num_items: int, users: np.ndarray, items: np.ndarray,
                 backend: str = "torch", device: torch.device | str = "cpu",
                 weights: np.ndarray | None = None) -> None:
        if backend not in BACKENDS and backend != "auto":
            raise ValueError(f"unknown propagation backend {backend!r}; "
                             f"choose one of {sorted([*BACKENDS, 'auto'])}")
        self.num_users, self.num_items = num_users, num_items
        self.users = np.asarray(users, dtype=np.int64)
        self.items = np.asarray(items, dtype=np.int64)
        self.weights = None if weights is None else np.asarray(weights, dtype=np.float64)
        if self.weights is not None and (self.weights.shape != self.users.shape
                                         or not np.isfinite(self.weights).all()
                                         or (self.weights <= 0).any()):
            raise ValueError("edge weights must be finite numbers > 0, one per edge")
        self.device = torch.device(device)
        self.adj = normalized_adjacency(num_users, num_items, self.users, self.items,
                                        self.weights)
        if backend == "auto":
            backend = pick_backend(self.adj, self.device)
        self.backend = backend
        self._prop = BACKENDS[backend](self.adj, self.device)
        self._svd: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    @classmethod
    def from_interactions(cls, inter: Interactions, backend: str = "torch",
                          device: torch.device | str = "cpu") -> UIGraph:
        """The graph of a log's interactions (usually the train split), weighted by the
        log's :obj:`weights` (click counts) where it has them."""
        return cls(inter.num_users, inter.num_items, inter.users, inter.items, backend, device,
                   getattr(inter, "weights", None))

    @property
    def num_nodes(self) -> int:
        return self.num_users + self.num_items

    @property
    def degrees(self) -> np.ndarray:
        """The degree of every node, :obj:`[U+I]` float64 (weighted with :attr:`weights`),
        as the normalisation of :attr:`adj` uses it."""
        return node_degrees(self.num_users, self.num_items, self.users, self.items,
                            self.weights)

    @property
    def num_edges(self) -> int:
        """Number of directed edges (two per interaction)."""
        return int(self.adj.nnz)

    def subgraph(self, edge_mask: np.ndarray) -> UIGraph:
        """The graph with only the interactions where :obj:`edge_mask` is true, renormalised
        (both directions of an edge are kept or dropped together)."""
        return UIGraph(self.num_users, self.num_items, self.users[edge_mask],
                       self.items[edge_mask], self.backend, self.device,
                       None if self.weights is None else self.weights[edge_mask])

    @property
    def interactions(self) -> sp.csr_matrix:
        r"""The normalised user–item block :math:`\tilde{\mathbf{R}} = \mathbf{D}_U^{-1/2}
        \mathbf{R} \mathbf{D}_I^{-1/2}` of :attr:`adj`, shape :obj:`[U, I]` (CSR, float32)."""
        return self.adj[: self.num_users, self.num_users:].tocsr()

    def svd(self, rank: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        r"""The top-:obj:`rank` singular triplets of :attr:`interactions`,
        :math:`\tilde{\mathbf{R}} \approx \mathbf{U} \operatorname{diag}(\mathbf{s})
        \mathbf{V}^\top`, by scipy's PROPACK solver (exact up to its tolerance), in float64.

        Computed once per graph: a later call for the same or a smaller rank cuts the
        stored factors, so the graph filters (:mod:`gcl.methods.filters`) and the spectral
        start (:func:`gcl.nn.lightgcn.set_spectral_start`) of one fit share one SVD. Each
        singular pair is an eigenvector of :attr:`adj`: :math:`\hat{\mathbf{A}}
        [\mathbf{u}; \mathbf{v}] = s [\mathbf{u}; \mathbf{v}]`.

        Args:
            rank (int): number of triplets, :obj:`1 <= rank < min(U, I)`.
            seed (int): seed of the solver's start vector. (default: :obj:`0`)

        Returns:
            (u, s, v): shapes :obj:`[U, rank]`, :obj:`[rank]` (descending) and
            :obj:`[I, rank]`; each :obj:`v` column's sign is fixed so that its largest
            entry in absolute value is positive.
        """
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or not (
                1 <= rank < min(self.num_users, self.num_items)):
            raise ValueError(f"the SVD rank must be an integer in 1..min(users, items) - 1 = "
                             f"{min(self.num_users, self.num_items) - 1}, got {rank!r}")
        if self._svd is None or self._svd[1].shape[0] < rank:
            from scipy.sparse.linalg import svds

            u, s, vt = svds(self.interactions.astype(np.float64), k=int(rank),
                            solver="propack", random_state=seed)
            order = np.argsort(-s)
            u, s, v = u[:, order], s[order], vt[order].T
            flip = np.sign(v[np.abs(v).argmax(0), np.arange(v.shape[1])])
            flip[flip == 0] = 1
            self._svd = (u * flip, s, v * flip)
        u, s, v = self._svd
        return u[:, :rank], s[:rank], v[:, :rank]

    def propagate_rows(self, x: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        r"""The rows :obj:`rows` of one step, :math:`(\hat{\mathbf{A}}\mathbf{X})_S =
        \hat{\mathbf{A}}_{S,:}\mathbf{X}`, shape :obj:`[len(rows), d]`, at the cost of those
        rows' edges forward and backward (the gradient reaches every row of :obj:`x` they
        touch). Float32 only."""
        sub = self.adj[rows.cpu().numpy()]
        fwd = csr_tensor(sub, self.device)
        bwd = csr_tensor(sub.T.tocsr(), self.device)
        return _RowSpMM.apply(fwd, bwd, x)

    def row_edges(self, rows: torch.Tensor) -> int:
        """Number of directed edges leaving the nodes :obj:`rows` (the cost of
        :meth:`propagate_rows`)."""
        return int(np.diff(self.adj.indptr)[rows.cpu().numpy()].sum())

    def propagate(self, x: torch.Tensor) -> torch.Tensor:
        r"""One step :math:`\hat{\mathbf{A}}\mathbf{X}`, shape :obj:`[U+I, d]` in and out."""
        return self._prop(x)

    def __repr__(self) -> str:
        return (f"UIGraph({self.num_users} users, {self.num_items} items, "
                f"{self.num_edges} directed edges, backend={self.backend!r})")
