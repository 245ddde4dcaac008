r"""Training-free graph filters: GF-CF and BSPM, fitted in closed form.

Both score a user from their whole train row :math:`\mathbf{r}_u \in \{0, 1\}^I` with
polynomials of the item–item filter :math:`\mathbf{P} = \tilde{\mathbf{R}}^\top
\tilde{\mathbf{R}}`, :math:`\tilde{\mathbf{R}} = \mathbf{D}_U^{-1/2} \mathbf{R}
\mathbf{D}_I^{-1/2}`, and the ideal low-pass :math:`\mathbf{P}_{IDL} = \mathbf{D}_I^{-1/2}
\mathbf{V} \mathbf{V}^\top \mathbf{D}_I^{1/2}` from the top right singular vectors
:math:`\mathbf{V}` of :math:`\tilde{\mathbf{R}}` (:meth:`gcl.graph.UIGraph.svd`). Nothing
:obj:`[I, I]` is ever formed: :math:`\mathbf{y}\mathbf{P}` is two sparse products per batch.
Their scores are not an inner product of one user and one item vector, so they are served
by :meth:`Method.scores` (:obj:`dot_scores = False`) and cannot be exported as embeddings.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from gcl.data.interactions import Interactions
from gcl.graph import UIGraph, csr_mm, csr_tensor
from gcl.methods.base import Method

#: Order of each ODE solver's step. For the linear, autonomous ODEs of BSPM one step of an
#: explicit Runge–Kutta method of order :math:`p` with :math:`p \le 4` stages is the Taylor
#: polynomial :math:`\sum_{j \le p} (h\mathbf{A})^j / j!`, whichever tableau it uses.
SOLVERS = {"euler": 1, "midpoint": 2, "rk4": 4}
#: Settings every method receives from :class:`gcl.GraphCLRecommender`; a filter has no use
#: for them.
_UNUSED = ("dim", "layers", "reg")


class GraphFilter(Method):
    r"""Base of the closed-form filters: holds :math:`\tilde{\mathbf{R}}`, the item degrees
    and the top-:obj:`rank` right singular vectors, and applies :math:`\mathbf{P}` and
    :math:`\mathbf{P}_{IDL}` to batches of rows. Items without a train interaction get zero
    low-pass scores (the references divide by their zero degree)."""

    trainable = False
    dot_scores = False

    def __init__(self, num_users: int, num_items: int, rank: int, **unused: object) -> None:
        super().__init__(num_users, num_items)
        extra = sorted(set(unused) - set(_UNUSED))
        if extra:
            raise TypeError(f"unknown setting(s) {extra} for method {self.name!r}")
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 0:
            raise ValueError(f"rank must be an integer >= 0, got {rank!r}")
        self.rank = int(rank)
        self.register_buffer("v", torch.zeros(num_items, self.rank))
        self._norm = self._norm_t = self._deg = None

    def prepare(self, train: Interactions, graph: UIGraph) -> None:
        if self.rank:
            _, _, v = graph.svd(self.rank)
            self.v = torch.from_numpy(v.astype(np.float32)).to(self.v.device)
        self.serve(train.to_csr())

    def serve(self, seen: sp.csr_matrix) -> None:
        """Rebuilds :math:`\\tilde{\\mathbf{R}}` from the train matrix (binarised)."""
        r = sp.csr_matrix(seen, dtype=np.float32)
        r.data[:] = 1
        du, di = np.asarray(r.sum(1)).ravel(), np.asarray(r.sum(0)).ravel()
        inv_u = np.where(du > 0, np.maximum(du, 1) ** -0.5, 0)
        inv_i = np.where(di > 0, np.maximum(di, 1) ** -0.5, 0)
        norm = sp.csr_matrix(sp.diags(inv_u) @ r @ sp.diags(inv_i), dtype=np.float32)
        dev = self.v.device
        self._norm = csr_tensor(norm, dev)
        self._norm_t = csr_tensor(norm.T.tocsr(), dev)
        self._deg = torch.from_numpy(np.stack([inv_i, np.sqrt(di)]).astype(np.float32)).to(dev)

    def linear(self, y: torch.Tensor) -> torch.Tensor:
        r""":math:`\mathbf{y}\mathbf{P}` for rows :obj:`y` :obj:`[B, I]`."""
        return csr_mm(self._norm_t, csr_mm(self._norm, y.T.contiguous())).T

    def ideal(self, y: torch.Tensor) -> torch.Tensor:
        r""":math:`\mathbf{y}\mathbf{P}_{IDL}` for rows :obj:`y` :obj:`[B, I]`."""
        inv_sqrt, sqrt = self._deg
        return ((y * inv_sqrt) @ self.v) @ self.v.T * sqrt

    def filter(self, r: torch.Tensor) -> torch.Tensor:
        """Scores :obj:`[B, I]` of rows :obj:`r` :obj:`[B, I]`."""
        raise NotImplementedError

    def scores(self, rows: sp.csr_matrix) -> torch.Tensor:
        if self._norm is None:
            raise RuntimeError(f"{self.name} is not fitted: call prepare() or serve() first")
        r = torch.from_numpy(sp.csr_matrix(rows, dtype=np.float32).toarray())
        return self.filter(r.to(self.v.device))


class GFCF(GraphFilter):
    r"""GF-CF from `"How Powerful is Graph Convolution for Recommendation?"
    <https://arxiv.org/abs/2108.07567>`_ (Shen et al., CIKM 2021), following the authors'
    :obj:`GF_CF.getUsersRating` in `yshenaw/GF_CF <https://github.com/yshenaw/GF_CF>`_:

    .. math::
        \mathbf{s}_u = \mathbf{r}_u \tilde{\mathbf{R}}^\top \tilde{\mathbf{R}}
        + \alpha\, \mathbf{r}_u \mathbf{D}_I^{-1/2} \mathbf{V}_k \mathbf{V}_k^\top
        \mathbf{D}_I^{1/2}

    Args:
        num_users (int): number of users.
        num_items (int): number of items.
        alpha (float): weight of the ideal low-pass part (the authors use 0 on
            amazon-book). (default: :obj:`0.3`)
        rank (int): singular vectors :math:`k` of the low-pass part. (default: :obj:`256`)
    """

    name = "gf-cf"

    def __init__(self, num_users: int, num_items: int, alpha: float = 0.3, rank: int = 256,
                 **unused: object) -> None:
        super().__init__(num_users, num_items, rank if alpha else 0, **unused)
        if not np.isfinite(alpha) or alpha < 0:
            raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
        self.alpha = float(alpha)

    def filter(self, r: torch.Tensor) -> torch.Tensor:
        out = self.linear(r)
        return out + self.alpha * self.ideal(r) if self.alpha else out


class BSPM(GraphFilter):
    r"""BSPM from `"Blurring-Sharpening Process Models for Collaborative Filtering"
    <https://arxiv.org/abs/2211.09324>`_ (Choi et al., SIGIR 2023), following
    :obj:`BSPM.getUsersRating` in `jeongwhanchoi/BSPM <https://github.com/jeongwhanchoi/BSPM>`_
    (defaults: its gowalla command). Three linear ODEs, each solved with :obj:`steps` steps
    of its solver over :math:`[0, T]`:

    .. math::
        \frac{d\mathbf{y}}{dt} = \mathbf{y}(\mathbf{P}_{IDL} - \mathbf{I}) \text{ (ideal)},
        \quad \frac{d\mathbf{y}}{dt} = \mathbf{y}(\mathbf{P} - \mathbf{I}) \text{ (blur)},
        \quad \frac{d\mathbf{y}}{dt} = -\mathbf{y}\mathbf{P} \text{ (sharpen)}

    all from :math:`\mathbf{r}_u`; with :obj:`final_sharpening` the sharpening starts from
    :math:`\beta\,\mathbf{y}_{IDL} + \mathbf{y}_{blur}`, otherwise from
    :math:`\mathbf{y}_{blur}` and :math:`\beta\,\mathbf{y}_{IDL}` is added after.
    :obj:`sharpen_time=0` turns sharpening off.

    Args:
        num_users (int): number of users.
        num_items (int): number of items.
        rank (int): singular vectors of :math:`\mathbf{P}_{IDL}`. (default: :obj:`448`)
        idl_beta (float): weight :math:`\beta` of the ideal low-pass. (default: :obj:`0.2`)
        idl_time, blur_time, sharpen_time (float): :math:`T` of each ODE.
            (default: :obj:`1.0`, :obj:`1.0`, :obj:`2.5`)
        idl_steps, blur_steps, sharpen_steps (int): steps of each solver.
            (default: :obj:`1` each)
        idl_solver, blur_solver, sharpen_solver (str): :obj:`"euler"`, :obj:`"midpoint"`
            or :obj:`"rk4"`. (default: :obj:`"euler"`, :obj:`"euler"`, :obj:`"rk4"`)
        final_sharpening (bool): sharpen the sum of both parts. (default: :obj:`True`)
    """

    name = "bspm"

    def __init__(self, num_users: int, num_items: int, rank: int = 448, idl_beta: float = 0.2,
                 idl_time: float = 1.0, idl_steps: int = 1, idl_solver: str = "euler",
                 blur_time: float = 1.0, blur_steps: int = 1, blur_solver: str = "euler",
                 sharpen_time: float = 2.5, sharpen_steps: int = 1,
                 sharpen_solver: str = "rk4", final_sharpening: bool = True,
                 **unused: object) -> None:
        super().__init__(num_users, num_items, rank if idl_beta else 0, **unused)
        if not np.isfinite(idl_beta) or idl_beta < 0:
            raise ValueError(f"idl_beta must be a finite number >= 0, got {idl_beta!r}")
        self.idl_beta, self.final_sharpening = float(idl_beta), bool(final_sharpening)
        self.odes = {}
        for part, t, steps, solver in (("idl", idl_time, idl_steps, idl_solver),
                                       ("blur", blur_time, blur_steps, blur_solver),
                                       ("sharpen", sharpen_time, sharpen_steps, sharpen_solver)):
            if solver not in SOLVERS:
                raise ValueError(f"{part}_solver must be one of {sorted(SOLVERS)}, got {solver!r}")
            if not np.isfinite(t) or t < 0:
                raise ValueError(f"{part}_time must be a finite number >= 0, got {t!r}")
            if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
                raise ValueError(f"{part}_steps must be an integer >= 1, got {steps!r}")
            self.odes[part] = (float(t), int(steps), SOLVERS[solver])

    def solve(self, part: str, f, y: torch.Tensor) -> torch.Tensor:
        """:obj:`y` carried over :math:`[0, T]` by the linear map :obj:`f`, the ODE of
        :obj:`part`."""
        t, steps, order = self.odes[part]
        h = t / steps
        for _ in range(steps):
            term, out = y, y
            for j in range(1, order + 1):
                term = f(term) * (h / j)
                out = out + term
            y = out
        return y

    def filter(self, r: torch.Tensor) -> torch.Tensor:
        blur = self.solve("blur", lambda y: self.linear(y) - y, r)
        idl = (self.solve("idl", lambda y: self.ideal(y) - y, r) * self.idl_beta
               if self.idl_beta else None)
        start = blur + idl if self.final_sharpening and idl is not None else blur
        out = self.solve("sharpen", lambda y: -self.linear(y), start)
        return out + idl if not self.final_sharpening and idl is not None else out
