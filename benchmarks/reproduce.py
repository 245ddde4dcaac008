"""gcl and the reference code side by side: each method trained in both, on the same split,
for the same number of epochs, with the same hyperparameters and thread count, one process
at a time, each library in its own environment; both scored by gcl's evaluation.

    taskset -c 1 python benchmarks/reproduce.py --dataset ml-100k --epochs 20
    taskset -c 1 python benchmarks/reproduce.py --peer recbole-gnn --models LightGCL,NCL

The peers: SELFRec (``--peer selfrec``, the default; ``benchmarks/peers/selfrec.py``: its
own model code and training loop, run on CPU by a patch in the harness) and RecBole-GNN
(``--peer recbole-gnn``; ``benchmarks/peers/recbole_gnn.py``: its model code and trainer on
RecBole 1.2.1, on CPU). Settings are the peer's configuration files' (SELFRec's ``conf/``:
dim 64, batch 2048, lr 1e-3, L2 1e-4 and each model's section; RecBole-GNN's
``properties/model/<Model>.yaml`` with dim 64, batch 2048, lr 1e-3; below, :obj:`PEERS`),
given to gcl's method by its own names. Where gcl's default form is not SELFRec's (SGL's
negatives), gcl runs SELFRec's form, named; against RecBole-GNN gcl runs its default forms
except LightGCL's item anchors (``item_anchors="pos"``, RecBole-GNN's). Neither side
early-stops or picks an epoch: the last epoch's embeddings are scored, on test with the
train items masked. CPU seconds are ``time.process_time()`` of the training process.
Writes ``benchmarks/results/reproduce.{json,md}``, keyed ``dataset/model/seed`` for SELFRec
and ``dataset/peer:model/seed`` for the others (``--tables-only`` rewrites the table from
the JSON).

Known differences of form: SELFRec's ``SGL.py`` contrasts one InfoNCE over the batch's
unique users and items together (users are negatives of items and the other way round);
gcl runs that form as ``negatives="joint"`` against it (gcl's default is SGL-Torch's, all
users / items of the other view, compared with RecBole-GNN's SGL). Rows before commit
5d3e6cc ran gcl's ``"in-batch"`` form (one InfoNCE over the users plus one over the items)
against SELFRec's joint one: ratios 0.60-0.65, a difference of form, not a measurement of
the method. SELFRec's L2 term is the unsquared norm of the batch rows
over the batch size squared; gcl's is LightGCN's (squared, over twice the batch size);
SELFRec's NCL takes it on the batch's final (propagated) rows, gcl on the layer-0 rows. NCL's
prototype term joins after 20 epochs in SELFRec (fixed), RecBole-GNN (``warm_up_step``) and
gcl (``warm_up``), so at 20 epochs none of them trains it.

Against RecBole-GNN (commit in ``peers/recbole_gnn.py``): LightGCL has the same formulas
(layer-sum readout, every layer through the rank-5 SVD view, positives clamped to [-5, 5],
log-sum-exp over all users / items, the squared norm of the whole ID table); RecBole-GNN
contrasts the positive items only (this pair gives gcl ``item_anchors="pos"``; gcl's
default is the authors' HKUDS code, positives and negatives), its denominators count
RecBole's padding row (one more user and item) and add 1e-8 inside the log. NCL has the
same formulas but the L2 term: RecBole's ``EmbLoss`` is the unsquared norm of the batch's
layer-0 rows over the batch size, gcl's LightGCN's (at weight 1e-4 either is small beside
BPR); its trainer runs the E-step (Faiss k-means) before every epoch from the first, also
while the prototype term is left out, so its CPU seconds include k-means that gcl skips
during warm-up. SGL (RecBole-GNN's, SGL-Torch's form, gcl's default) sums BPR and InfoNCE
over the batch where gcl averages (under Adam only the L2 term's relative weight
changes), and its L2 is unsquared. DirectAU's RecBole-GNN default is the MF encoder (gcl
``layers=0``) from a Xavier-normal start (gcl's Xavier-uniform has the same variance) with
Adam weight decay 1e-6, which gcl has not (``reg=0``).

The ``±`` of a ratio of means is its standard error from each library's seed-to-seed
spread: the two libraries' seeds draw unrelated random streams, so a seed's two runs are not
a pair, and a ratio of means within two standard errors of 1 is a difference the seeds
alone make often. SGL's views drop a fixed count of edges in gcl (``draw="exact"``), as in
SGL-Torch, SELFRec and RecBole-GNN; its rows from commit cb2448c on ran so (before, each edge
was dropped on its own).

Reading (ml-100k, 20 epochs): the ratio of means over seeds ("Means over seeds", below) is
within the 3% target for LightGCN, SimGCL, XSimGCL and DirectAU. Single seeds differ by up
to about 13% either way, which is the seed-to-seed spread of either library: with the first
three seeds XSimGCL and DirectAU read outside 3%, and seeds 3-5 brought both inside it, so
their difference is the seed's, not the method's. SGL, now in SELFRec's joint form (above),
does not train at these settings on ml-100k in 20 epochs in either library (Recall@20 about
0.04 against LightGCN's 0.25, random embeddings about 0.013), so its ratio (1.071
Recall@20, 1.049 NDCG@20 over seeds 0-2) measures little. At RecBole-GNN's ``SGL.yaml``
values (3 layers, tau 0.5, lambda 0.05), given to SELFRec's code as the pair
``SGL@recbole-values`` (joint form on both sides), both train (Recall@20 about 0.28): ratio
of means over seeds 0-2 0.997 (Recall@20) and 1.000 (NDCG@20), single seeds 0.984-1.011.
amazon-beauty (leave-one-out) runs one seed per method: LightGCN 0.999, SimGCL 0.992,
XSimGCL 0.984, DirectAU 0.988 (Recall@20; NDCG@20 1.002, 0.976, 0.970, 1.003), and SGL in
the joint form, seeds 0-2, ratio of means 0.981 (NDCG@20 0.978; per seed 0.960, 0.990 and
0.994; 0.645 before, in-batch against joint). The L2 forms differ (above), but at 1e-4
under Adam either is small beside BPR.

Against RecBole-GNN (ml-100k, 20 epochs, seeds 0-2): LightGCL's ratio of means is 0.997
(Recall@20) and 0.995 (NDCG@20), single seeds 0.98-1.02; NCL's is 0.990 and 0.988, single
seeds 0.97-1.01 (seed 2 reads 0.966, within either library's seed-to-seed spread of the
other pairs). gcl's CPU seconds per epoch are about those of RecBole-GNN for LightGCL and a
quarter of them for NCL (5.6-5.9 against 22-23). RecBole-GNN's LightGCN-based models
(LightGCN, NCL, SGL, SimGCL, XSimGCL) propagate here with PyG's ``MessagePassing`` over
``edge_index``, its path without ``torch_sparse`` (LightGCL multiplies its own sparse
matrix), so their CPU seconds are not its fastest: LightGCN reads 14.6 CPU s per epoch
against gcl's 0.61 (seed 0, Recall@20 ratio 1.011, NDCG@20 0.999); NCL's trainer also runs
Faiss k-means before every epoch (above); neither share was measured apart. NCL against
SELFRec, at SELFRec's ``conf/NCL.yaml`` values (tau 0.05, ssl_reg 1e-6), trains in neither
library within 20 epochs: both score at the level of random embeddings (gcl 0.0118, SELFRec
0.0110 Recall@20 on seed 0; random 64-dim Gaussian embeddings score 0.0106-0.0165 on this
split, five draws, mean 0.0133), and gcl warns that its BPR loss stays at ln 2; the ratio
of two random rankings says nothing about the method. At RecBole-GNN's ``NCL.yaml`` values
(tau 0.1, ssl_reg 1e-7, alpha 1, proto_reg 8e-8, 1000 clusters), given to SELFRec's code as
the pair ``NCL@recbole-values`` and run for 30 epochs so that the prototype term trains in
the last 10, both libraries train (Recall@20 about 0.26): ratio of means over seeds 0-2
1.007 (Recall@20) and 1.006 (NDCG@20), single seeds 0.986-1.033. Against RecBole-GNN,
LightGCN and DirectAU (MF) run one seed: Recall@20 ratios 1.011 and 0.986, NDCG@20 0.999
and 0.999. SGL (SGL-Torch's all-node form, gcl's default), seeds 0-2: ratio of means 1.026
± 0.024 (Recall@20) and 1.035 ± 0.019 (NDCG@20), per seed 1.033, 1.037 and 1.007: the
NDCG@20 ratio is 1.8 standard errors from 1, inside the two libraries' seed-to-seed spread
(RecBole-GNN's three runs spread 3.2% on Recall@20, gcl's 2.5%). The formulas are the same
(each batch's users and positive items, with their repeats, against every user / item of
the other view; negatives among the user's non-positives); RecBole-GNN's sums over the
batch and its unsquared L2 at 1e-5 were not measured apart. SimGCL, seeds 0-2: 1.019 and
1.022 (per seed 1.068, 0.991 and 0.997 on Recall@20); XSimGCL, seed 0: 1.018 and 1.004.
SimGCL at its yaml weight (lambda 0.5) trains little on ml-100k in 20 epochs in either
library (Recall@20 about 0.10-0.11, against LightGCN's 0.25), where single seeds spread
most.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

from common import (
    HERE,
    RESULTS,
    SETTINGS,
    command_line,
    environment,
    load_split,
    merge_result,
    read_records,
)

sys.path.insert(0, str(HERE / "peers"))

#: (pair, its configuration section, gcl method, gcl settings of the same values). A pair is
#: the peer's model, or ``model@variant`` for the model at other values than its own file's.
PAIRS = [
    ("LightGCN", {"n_layer": 2}, "lightgcn", {"layers": 2, "init_std": "xavier"}),
    ("SGL", {"n_layer": 2, "lambda": 0.1, "drop_rate": 0.1, "aug_type": 1, "temp": 0.2},
     "sgl-ed", {"layers": 2, "cl_weight": 0.1, "p": 0.1, "temperature": 0.2,
                "negatives": "joint"}),
    # SELFRec's SGL (joint form) at RecBole-GNN's SGL.yaml values, which train on ml-100k.
    ("SGL@recbole-values", {"n_layer": 3, "lambda": 0.05, "drop_rate": 0.1, "aug_type": 1,
                            "temp": 0.5},
     "sgl-ed", {"layers": 3, "cl_weight": 0.05, "p": 0.1, "temperature": 0.5,
                "negatives": "joint"}),
    ("SimGCL", {"n_layer": 2, "lambda": 0.5, "eps": 0.1}, "simgcl",
     {"layers": 2, "cl_weight": 0.5, "eps": 0.1, "temperature": 0.2}),
    ("XSimGCL", {"n_layer": 2, "l_star": 1, "lambda": 0.2, "eps": 0.2, "tau": 0.15},
     "xsimgcl", {"layers": 2, "cl_layer": 1, "cl_weight": 0.2, "eps": 0.2,
                 "temperature": 0.15}),
    ("DirectAU", {"gamma": 2, "n_layers": 3}, "directau", {"layers": 3, "gamma": 2.0}),
    ("NCL", {"n_layer": 3, "ssl_reg": 1e-6, "proto_reg": 1e-7, "tau": 0.05, "hyper_layers": 1,
             "alpha": 1.5, "num_clusters": 2000},
     "ncl", {"layers": 3, "cl_weight": 1e-6, "proto_weight": 1e-7, "temperature": 0.05,
             "hyper_layers": 1, "alpha": 1.5, "num_clusters": 2000, "warm_up": 20}),
    # SELFRec's NCL at RecBole-GNN's NCL.yaml values, which train on ml-100k.
    ("NCL@recbole-values", {"n_layer": 3, "ssl_reg": 1e-7, "proto_reg": 8e-8, "tau": 0.1,
                            "hyper_layers": 1, "alpha": 1.0, "num_clusters": 1000},
     "ncl", {"layers": 3, "cl_weight": 1e-7, "proto_weight": 8e-8, "temperature": 0.1,
             "hyper_layers": 1, "alpha": 1.0, "num_clusters": 1000, "warm_up": 20}),
]
#: (RecBole-GNN model, its settings: its ``properties/model/<Model>.yaml`` values, gcl
#: method, gcl settings of the same values). DirectAU's yaml encoder is MF (gcl:
#: ``layers=0``) and its L2 an Adam weight decay of 1e-6, which gcl does not have (reg 0).
GNN_PAIRS = [
    ("LightGCL", {"n_layers": 2, "dropout": 0.0, "temp": 0.8, "lambda1": 0.01, "lambda2": 1e-5,
                  "q": 5},
     "lightgcl", {"layers": 2, "temperature": 0.8, "cl_weight": 0.01, "reg": 1e-5, "rank": 5,
                  "item_anchors": "pos", "init_std": "xavier"}),
    ("NCL", {"n_layers": 3, "reg_weight": 1e-4, "ssl_temp": 0.1, "ssl_reg": 1e-7,
             "hyper_layers": 1, "alpha": 1, "proto_reg": 8e-8, "num_clusters": 1000,
             "m_step": 1, "warm_up_step": 20},
     "ncl", {"layers": 3, "reg": 1e-4, "temperature": 0.1, "cl_weight": 1e-7,
             "hyper_layers": 1, "alpha": 1.0, "proto_weight": 8e-8, "num_clusters": 1000,
             "warm_up": 20, "init_std": "xavier"}),
    ("LightGCN", {"n_layers": 2, "reg_weight": 1e-5, "require_pow": True},
     "lightgcn", {"layers": 2, "reg": 1e-5, "init_std": "xavier"}),
    ("SGL", {"type": "ED", "n_layers": 3, "ssl_tau": 0.5, "reg_weight": 1e-5,
             "ssl_weight": 0.05, "drop_ratio": 0.1},
     "sgl-ed", {"layers": 3, "temperature": 0.5, "reg": 1e-5, "cl_weight": 0.05, "p": 0.1}),
    ("SimGCL", {"n_layers": 2, "reg_weight": 1e-4, "lambda": 0.5, "eps": 0.1,
                "temperature": 0.2},
     "simgcl", {"layers": 2, "reg": 1e-4, "cl_weight": 0.5, "eps": 0.1, "temperature": 0.2}),
    ("XSimGCL", {"n_layers": 2, "reg_weight": 1e-4, "lambda": 0.1, "eps": 0.2,
                 "temperature": 0.2, "layer_cl": 1, "require_pow": True},
     "xsimgcl", {"layers": 2, "reg": 1e-4, "cl_weight": 0.1, "eps": 0.2, "temperature": 0.2,
                 "cl_layer": 1}),
    ("DirectAU", {"encoder": "MF", "gamma": 0.5, "weight_decay": 1e-6},
     "directau", {"layers": 0, "gamma": 0.5, "reg": 0.0}),
]
#: Each peer's pairs, by ``--peer``; the first is the default.
PEERS = {"selfrec": PAIRS, "recbole-gnn": GNN_PAIRS}
#: The peer's name in the tables.
PEER_NAMES = {"selfrec": "SELFRec", "recbole-gnn": "RecBole-GNN"}
COMMON = {k: v for k, v in SETTINGS.items() if k != "layers"}  # each pair gives its depth


def row_key(dataset: str, peer: str, model: str, seed: int) -> str:
    """The key of a run in reproduce.json: ``dataset/model/seed`` for SELFRec (the first
    peer, whose rows came first), ``dataset/peer:model/seed`` for the others."""
    return f"{dataset}/{model if peer == 'selfrec' else f'{peer}:{model}'}/{seed}"


def peer_model(pair: str) -> str:
    """The peer's model of a pair (``NCL`` of ``NCL@recbole-values``)."""
    return pair.split("@")[0]


def pair_name(row: dict) -> str:
    """The pair a reproduce.json row ran (rows without ``pair`` ran the peer's model)."""
    return row.get("pair") or row["peer"]["model"]


def peer_name(row: dict) -> str:
    """The peer library of a reproduce.json row (rows without ``peer_name`` are SELFRec's)."""
    return row.get("peer_name") or row["peer"]["library"].split()[0]


def run_gcl(method: str, settings: dict, epochs: int, train, test, threads: int,
            seed: int = 0) -> dict:
    import torch

    from gcl import GraphCLRecommender
    from gcl.metrics import evaluate

    rec = GraphCLRecommender(method=method, **{**COMMON, **settings}, epochs=epochs,
                             patience=None, device="cpu", seed=seed, num_threads=threads,
                             progress=False)
    cpu, wall = time.process_time(), time.perf_counter()
    rec.fit(train)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    metrics = evaluate(torch.from_numpy(rec.user_embeddings()),
                       torch.from_numpy(rec.item_embeddings()), test.to_csr(), train.to_csr(),
                       k=[20])
    from gcl import __version__
    return {"library": f"gcl {__version__}", "method": method, "settings": settings,
            "epochs": len(rec.history_), "recall@20": metrics["recall@20"],
            "ndcg@20": metrics["ndcg@20"], "cpu_seconds_per_epoch": cpu / epochs,
            "seconds_per_epoch": wall / epochs}


def table(rows: list[dict]) -> str:
    """reproduce.md from the rows of reproduce.json: means over seeds per (dataset, peer,
    method), then each run; each row names its peer."""
    lines = ["| dataset | peer | method | seed | epochs | gcl Recall@20 | peer Recall@20 | "
             "ratio | gcl NDCG@20 | peer NDCG@20 | ratio | gcl CPU s/epoch | "
             "peer CPU s/epoch |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        g, p = r["gcl"], r["peer"]
        lines.append(
            f"| {r['dataset']} | {peer_name(r)} | {g['method']} vs {pair_name(r)} | "
            f"{r.get('seed', 0)} | {r['epochs']} | "
            f"{g['recall@20']:.4f} | {p['recall@20']:.4f} | {r['ratio_recall@20']:.3f} | "
            f"{g['ndcg@20']:.4f} | {p['ndcg@20']:.4f} | {r['ratio_ndcg@20']:.3f} | "
            f"{g['cpu_seconds_per_epoch']:.2f} | {p['cpu_seconds_per_epoch']:.2f} |")
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], peer_name(r),
                           r["gcl"]["method"] + " vs " + pair_name(r)), []).append(r)
    summary = ["| dataset | peer | method | seeds | gcl Recall@20 | peer Recall@20 | "
               "ratio of means ± s.e. | per-seed ratios | gcl NDCG@20 | peer NDCG@20 | "
               "ratio of means ± s.e. |",
               "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (dataset, peer, name), rs in groups.items():
        def ratio(key: str, rs: list[dict] = rs) -> str:
            g, p = ([r[side][key] for r in rs] for side in ("gcl", "peer"))
            value, se = ratio_of_means(g, p)
            return f"{value:.3f}" + (f" ± {se:.3f}" if se is not None else "")

        per_seed = ", ".join(f"{r['ratio_recall@20']:.3f}" for r in rs)
        summary.append(
            f"| {dataset} | {peer} | {name} | {len(rs)} | "
            f"{statistics.fmean(r['gcl']['recall@20'] for r in rs):.4f} | "
            f"{statistics.fmean(r['peer']['recall@20'] for r in rs):.4f} | "
            f"{ratio('recall@20')} | {per_seed} | "
            f"{statistics.fmean(r['gcl']['ndcg@20'] for r in rs):.4f} | "
            f"{statistics.fmean(r['peer']['ndcg@20'] for r in rs):.4f} | {ratio('ndcg@20')} |")
    env = rows[0] if rows else {}
    return ("# gcl and the reference implementations side by side\n\n"
            + __doc__.split("\n\n", 2)[2].strip()
            + "\n\nRatio: gcl / peer. Each run records its commit, CPU, threads and "
            "command in reproduce.json; the first: commit `{}`, {}, {} thread(s), `{}`.\n\n"
            .format(env.get("commit"), env.get("cpu"), env.get("threads"), env.get("command"))
            + "Means over seeds:\n\n" + "\n".join(summary) + "\n\nEach run:\n\n"
            + "\n".join(lines) + "\n")


def ratio_of_means(gcl: list[float], peer: list[float]) -> tuple[float, float | None]:
    r"""The ratio of the two means and its standard error from each side's seed-to-seed
    spread, to first order, the two libraries' seeds being independent:
    :math:`\frac{\bar g}{\bar p}\sqrt{s_g^2 / (n_g \bar g^2) + s_p^2 / (n_p \bar p^2)}`
    (:math:`s` the sample standard deviations over seeds); no error from one seed."""
    g, p = statistics.fmean(gcl), statistics.fmean(peer)
    if len(gcl) < 2 or len(peer) < 2:
        return g / p, None
    rel = (statistics.variance(gcl) / (len(gcl) * g ** 2)
           + statistics.variance(peer) / (len(peer) * p ** 2))
    return g / p, g / p * rel ** 0.5


def run_peer(peer: str, dataset: str, model: str, settings: dict, epochs: int, split,
             threads: int, seed: int) -> dict:
    """The peer's record of :obj:`model` trained on :obj:`split` (train, valid, test)."""
    train, valid, test = split
    if peer == "selfrec":
        import selfrec

        return selfrec.run(dataset, model, settings, epochs, train, test, threads, seed)
    import recbole_gnn

    return recbole_gnn.run(dataset, model, settings, epochs, train, valid, test, threads, seed)


def stored_peer(path, key: str, settings: dict, epochs: int) -> dict | None:
    """The peer's record of row :obj:`key` in :obj:`path`, if it ran :obj:`settings` for
    :obj:`epochs` epochs (the seed and dataset are in the key), marked as reused; else
    :obj:`None`."""
    row = read_records(path).get(key) if path.exists() else None
    if not row or row["peer"].get("settings") != settings or row["epochs"] != epochs:
        return None
    return {**row["peer"], "reused_from_commit": row.get("peer_commit", row.get("commit"))}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--peer", default="selfrec", choices=list(PEERS))
    p.add_argument("--dataset", default="ml-100k")
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0, help="seed of both libraries")
    p.add_argument("--models", default=None,
                   help="the peer's models, comma-separated (default: all of its pairs)")
    p.add_argument("--tables-only", action="store_true",
                   help="rewrite reproduce.md from reproduce.json")
    p.add_argument("--reuse-peer", action="store_true",
                   help="take the peer's side from reproduce.json where a row of the same "
                        "dataset, model, seed, epochs and peer settings has it (rerun gcl only)")
    args = p.parse_args(argv)
    path = RESULTS / "reproduce.json"
    if args.tables_only:
        (RESULTS / "reproduce.md").write_text(table(list(read_records(path).values())))
        return
    pairs = PEERS[args.peer]
    models = args.models.split(",") if args.models else [m for m, *_ in pairs]
    unknown = sorted(set(models) - {m for m, *_ in pairs})
    if unknown:
        p.error(f"--models: {', '.join(unknown)} not among {args.peer}'s pairs "
                f"({', '.join(m for m, *_ in pairs)})")
    import torch

    torch.set_num_threads(args.threads)
    command = command_line("reproduce.py")
    train, valid, test, _ = load_split(args.dataset)
    for model, peer_settings, method, settings in pairs:
        if model not in models:
            continue
        env = environment(args.threads, command)
        g = run_gcl(method, settings, args.epochs, train, test, args.threads, args.seed)
        print(json.dumps(g), flush=True)
        key = row_key(args.dataset, args.peer, model, args.seed)
        s = stored_peer(path, key, peer_settings, args.epochs) if args.reuse_peer else None
        if s is None:
            s = run_peer(args.peer, args.dataset, peer_model(model), peer_settings, args.epochs,
                         (train, valid, test), args.threads, args.seed)
        print(json.dumps(s), flush=True)
        row = {"dataset": args.dataset, "epochs": args.epochs, "seed": args.seed,
               "peer_name": PEER_NAMES[args.peer], "pair": model, "gcl": g, "peer": s,
               "peer_commit": s.get("reused_from_commit", env["commit"]),
               "ratio_recall@20": g["recall@20"] / max(s["recall@20"], 1e-12),
               "ratio_ndcg@20": g["ndcg@20"] / max(s["ndcg@20"], 1e-12),
               **{k: env[k] for k in ("commit", "cpu", "threads")}, "command": command,
               "env": env}
        rows = merge_result(path, key, row)
        (RESULTS / "reproduce.md").write_text(table(list(rows.values())))


if __name__ == "__main__":
    main()
