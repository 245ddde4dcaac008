"""Recall-index benchmark: Faiss flat, HNSW and IVF over trained item embeddings.

    python benchmarks/recall_index.py --dataset gowalla
    python benchmarks/recall_index.py --dataset gowalla --model runs/gowalla/model.pt

Needs trained embeddings: without ``--model`` it trains LightGCN (dim 64, 3 layers, lr 1e-3,
batch 2048) for ``--epochs`` epochs on the dataset's train split, without early stopping, and
caches the model in ``benchmarks/.cache/`` (git-ignored) for the next run.

For each index setting it reports the build time, the index size (serialized bytes, what the
index holds in memory) and the growth of the process's resident memory while it was built,
then over all users (``--users`` for a sample):

* **index alone**: queries per second of a batched search for the top ``--k`` items, and
  Recall@K against the exact top-K by inner product (brute force in torch);
* **served**: :meth:`gcl.RecallIndex.search` with the user's train items left out (the index
  is asked for K plus the user's train count), its queries per second and Recall@K against
  :meth:`GraphCLRecommender.recommend`, the exact answer with the same filter.

Writes ``benchmarks/results/recall_index.md`` and ``benchmarks/results/recall_index/
recall_index.json`` (in a folder of its own: ``benchmarks/tables.py`` reads every JSON file
directly in ``results/`` as a quality table). Timings use ``--threads`` threads (default 1)
for torch and Faiss alike; the machine is shared, so compare speeds within one run only.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
from common import RESULTS, ROOT, SETTINGS, command_line, environment, load_split, merge_result

CACHE = ROOT / "benchmarks" / ".cache"
SETTINGS = {"method": "lightgcn", **SETTINGS}


def rss_mb() -> float:
    """Resident memory of this process, from /proc (0 where there is none)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def model_for(args: argparse.Namespace):
    """(recommender, train, test, description) of the embeddings to index."""
    from gcl import GraphCLRecommender

    # The train part only: the served lists leave out the train items, as a model trained
    # without a valid split would.
    train, _, test, _ = load_split(args.dataset)
    if args.model:
        rec = GraphCLRecommender.load(args.model)
        return rec, train, test, {"source": str(args.model)}
    path = CACHE / f"{args.dataset}-lightgcn-e{args.epochs}-d{SETTINGS['dim']}.pt"
    if path.is_file():
        print(f"cached model: {path}", file=sys.stderr)
        rec = GraphCLRecommender.load(path)
    else:
        print(f"training LightGCN on {args.dataset} for {args.epochs} epochs ...",
              file=sys.stderr)
        rec = GraphCLRecommender(**SETTINGS, epochs=args.epochs, patience=None,
                                 device="cpu", progress=not args.quiet)
        rec.fit(train)
        CACHE.mkdir(parents=True, exist_ok=True)
        rec.save(path)
    info = {"source": f"LightGCN trained {args.epochs} epochs here (cached at "
                      f"{path.relative_to(ROOT)})", **SETTINGS, "epochs": args.epochs}
    return rec, train, test, info


def exact_topk(user_emb, item_emb, k: int, batch: int = 2048) -> tuple[np.ndarray, float]:
    """Exact top-k item rows by inner product (torch), and the seconds it took."""
    import torch

    u, i = torch.from_numpy(user_emb), torch.from_numpy(item_emb)
    out = []
    t0 = time.perf_counter()
    for s in range(0, len(u), batch):
        out.append(torch.topk(u[s:s + batch] @ i.T, k, dim=1).indices.numpy())
    return np.concatenate(out), time.perf_counter() - t0


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each row of :obj:`truth` found in the same row of :obj:`found`."""
    hits = [len(np.intersect1d(f[f >= 0], t)) for f, t in zip(found, truth)]
    return float(np.mean(hits) / truth.shape[1])


def bench_setting(index, label: str, users_rows: np.ndarray, user_ids: list, k: int,
                  exact_raw: np.ndarray, exact_served: np.ndarray, item_row: dict,
                  build_s: float, size_mb: float, rss_mb_grown: float, batch: int) -> dict:
    import faiss

    vectors = index.user_emb[users_rows]
    faiss.cvar.indexIVF_stats.reset()
    faiss.cvar.hnsw_stats.reset()
    t0 = time.perf_counter()
    found = np.concatenate([index.search_internal(vectors[s:s + batch], k)[0]
                            for s in range(0, len(vectors), batch)])
    raw_s = time.perf_counter() - t0
    kind = index.options["type"]
    ndis = (index.num_items * len(vectors) if kind == "flat" else
            faiss.cvar.hnsw_stats.ndis if isinstance(index.index, faiss.IndexHNSW) else
            faiss.cvar.indexIVF_stats.ndis + len(vectors) * index.index.nlist)
    t0 = time.perf_counter()
    items, _ = index.search(user_ids, k=k, exclude_seen=True, batch_size=batch)
    served_s = time.perf_counter() - t0
    served_rows = np.vectorize(lambda x: item_row.get(x, -1), otypes=[np.int64])(items)
    row = {"index": label, "build_s": round(build_s, 3), "index_mb": round(size_mb, 2),
           "rss_growth_mb": round(rss_mb_grown, 1),
           "distances_per_query": round(ndis / len(vectors)),
           "qps": round(len(vectors) / raw_s, 1), f"recall@{k}": round(recall(found, exact_raw), 4),
           "served_qps": round(len(vectors) / served_s, 1),
           f"served_recall@{k}": round(recall(served_rows, exact_served), 4)}
    print(json.dumps(row), file=sys.stderr)
    return row


def _plain_hnsw(faiss, items: np.ndarray):
    index = faiss.IndexHNSWFlat(items.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction, index.hnsw.efSearch = 200, 128
    index.add(items)
    return index


def _plain_ivf(faiss, items: np.ndarray, nlist: int):
    from gcl.index import default_nprobe

    index = faiss.IndexIVFFlat(faiss.IndexFlatIP(items.shape[1]), items.shape[1], nlist,
                               faiss.METRIC_INNER_PRODUCT)
    index.train(items)
    index.add(items)
    index.nprobe = default_nprobe(nlist)
    return index


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="gowalla")
    p.add_argument("--model", help="a model.pt to index instead of training one")
    p.add_argument("--epochs", type=int, default=3, help="LightGCN epochs when training")
    p.add_argument("--k", type=int, default=20)
    p.add_argument("--users", type=int, help="a random sample of this many users (all)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=4096, help="queries per search call")
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()

    import faiss
    import torch

    torch.set_num_threads(args.threads)
    faiss.omp_set_num_threads(args.threads)
    from gcl.index import RecallIndex, build_index, default_nlist, default_nprobe, serialize_index
    from gcl.metrics import topk

    rec, train, test, model_info = model_for(args)
    t0 = time.perf_counter()
    model_info["test"] = {k: round(v, 4) for k, v in rec.evaluate(test, k=[args.k]).items()
                          if k in (f"recall@{args.k}", f"ndcg@{args.k}")}
    print(f"model: {model_info['test']} ({time.perf_counter() - t0:.0f}s)", file=sys.stderr)
    user_emb, item_emb = rec.user_embeddings(), rec.item_embeddings()
    n_users, n_items = len(user_emb), len(item_emb)
    rows = np.arange(n_users)
    if args.users and args.users < n_users:
        rows = np.sort(np.random.default_rng(0).choice(n_users, args.users, replace=False))
    user_ids = list(rec.user_ids[rows])
    exact_raw, exact_s = exact_topk(user_emb[rows], item_emb, args.k)
    t0 = time.perf_counter()
    exact_served = topk(torch.from_numpy(user_emb), torch.from_numpy(item_emb), rows, args.k,
                        rec.seen_)[0].numpy()
    exact_served_s = time.perf_counter() - t0
    item_row = {x: n for n, x in enumerate(rec.item_ids.tolist())}
    results = [{"index": "exact (torch matmul + topk)", "build_s": 0.0,
                "index_mb": round(item_emb.nbytes / 2**20, 2), "rss_growth_mb": 0.0,
                "distances_per_query": n_items,
                "qps": round(len(rows) / exact_s, 1), f"recall@{args.k}": 1.0,
                "served_qps": round(len(rows) / exact_served_s, 1),
                f"served_recall@{args.k}": 1.0}]
    nlist = default_nlist(n_items)
    nprobes = sorted({max(1, nlist // 64), default_nprobe(nlist), max(1, nlist // 8),
                      max(1, nlist // 4)})
    settings = [("flat", {}, [{}]),
                ("hnsw", {"m": 32, "ef_construction": 200},
                 [{"ef_search": e} for e in (32, 64, 128, 256)]),
                ("ivf", {"nlist": nlist}, [{"nprobe": n} for n in nprobes])]
    defaults = {("hnsw", "ef_search", 128), ("ivf", "nprobe", default_nprobe(nlist))}
    for kind, build_opts, searches in settings:
        before = rss_mb()
        t0 = time.perf_counter()
        built, opts = build_index(item_emb, kind, **build_opts)
        build_s = time.perf_counter() - t0
        grown = rss_mb() - before
        size_mb = len(serialize_index(built)) / 2**20
        index = RecallIndex(built, opts, user_emb, item_emb, rec.user_ids, rec.item_ids,
                            rec.seen_)
        for search in searches:
            index.set_search_params(**search)
            label = kind + "".join(f", {k}={v}" for k, v in {**build_opts, **search}.items())
            if any((kind, key, v) in defaults for key, v in search.items()):
                label += " (default)"
            results.append(bench_setting(index, label, rows, user_ids, args.k, exact_raw,
                                         exact_served, item_row, build_s, size_mb, grown,
                                         args.batch))
        del index, built
    # For comparison: HNSW and IVF straight on inner product, without the MIPS-to-L2
    # transform that gcl.index applies.
    dim = item_emb.shape[1]
    for label, make in (
            ("hnsw on raw inner product, m=32, ef_construction=200, ef_search=128",
             lambda: _plain_hnsw(faiss, item_emb)),
            (f"ivf on raw inner product, nlist={nlist}, nprobe={default_nprobe(nlist)}",
             lambda: _plain_ivf(faiss, item_emb, nlist))):
        t0 = time.perf_counter()
        plain = make()
        build_s = time.perf_counter() - t0
        index = RecallIndex(plain, {"type": "raw", "dim": dim}, user_emb, item_emb,
                            rec.user_ids, rec.item_ids, rec.seen_)
        results.append(bench_setting(index, label, rows, user_ids, args.k, exact_raw,
                                     exact_served, item_row, build_s,
                                     len(serialize_index(plain)) / 2**20, 0.0, args.batch))

    record = {"dataset": args.dataset, "k": args.k, "users": len(rows), "items": n_items,
              "dim": int(item_emb.shape[1]), "threads": args.threads, "batch": args.batch,
              "model": model_info, "faiss": faiss.__version__, "torch": torch.__version__,
              "machine": f"{platform.machine()}, {platform.python_version()}",
              "command": command_line("recall_index.py"), "results": results}
    record["env"] = environment(args.threads, record["command"])
    merge_result(args.out / "recall_index" / "recall_index.json", args.dataset, record)
    (args.out / "recall_index.md").write_text(markdown(record))
    print(markdown(record))
    return 0


def markdown(r: dict) -> str:
    k = r["k"]
    m = r["model"]
    lines = [
        f"# Recall index on {r['dataset']}", "",
        f"Made by `{r['command']}` (commit {r.get('env', {}).get('commit') or 'not recorded'}"
        f"; {r.get('env', {}).get('cpu', r['machine'])}); {r['threads']} thread(s) for torch "
        "and Faiss "
        f"{r['faiss']}, {r['users']} users as queries, {r['items']} items, dim {r['dim']}, "
        f"batches of {r['batch']} queries. Embeddings: {m['source']}; their test "
        + ", ".join(f"{key} {v}" for key, v in m["test"].items()) + ".", "",
        f"*Index alone*: top-{k} by inner product, Recall@{k} against the exact top-{k}. "
        f"*Served*: `RecallIndex.search(users, k={k}, exclude_seen=True)`, Recall@{k} "
        f"against `GraphCLRecommender.recommend` (exact, train items left out). Index MB: "
        "the serialized index; RSS +MB: growth of resident memory while it was built (0 "
        "where the build reused memory the process had freed before); "
        "distances/query: vectors compared per query by the index alone (IVF: cells' "
        "centroids included), a measure of work that does not depend on the machine's load. "
        "The machine is shared: compare speeds within this table only.", "",
        f"| index | build s | index MB | RSS +MB | distances/query | QPS | Recall@{k} | "
        f"served QPS | served Recall@{k} |", "|---|---|---|---|---|---|---|---|---|"]
    for row in r["results"]:
        lines.append(f"| {row['index']} | {row['build_s']:.2f} | {row['index_mb']:.1f} | "
                     f"{row['rss_growth_mb']:.0f} | {row['distances_per_query']:,} | "
                     f"{row['qps']:,.0f} | "
                     f"{row[f'recall@{k}']:.4f} | {row['served_qps']:,.0f} | "
                     f"{row[f'served_recall@{k}']:.4f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
