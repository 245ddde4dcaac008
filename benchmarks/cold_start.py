"""Cold-start benchmark of the text twin tower.

    python benchmarks/cold_start.py --dataset ml-100k

Writes ``benchmarks/results/cold_start.md`` and ``benchmarks/results/cold_start/<dataset>.json``
(not a top-level ``results/*.json``: ``tables.py`` reads those as quality tables).

**Cold items.** 20% of the items (seeded) are held out entirely for test, and another 10%
for validation: every interaction with them leaves train. The graph model keeps the epoch
with the best NDCG@20 on the validation items (ranked like the test items), never looking
at the test items. Each user with interactions on held-out test items ranks the held-out
test items only; Recall@20 and NDCG@20 are measured against
those interactions. Compared: random scores (mean of 10 draws), TF-IDF content k-NN over
the user's history (an item's score is the sum of its cosine similarities to the user's
train items among its 50 nearest train items), the text tower alone (the
:class:`~gcl.nn.text_tower.TextBranch` trained only on its text contrastive task, no clicks
but its co-click negatives; a user is the mean of their train items' tower vectors, cosine
scores), and the graph model with the text branch: cold items embedded by the branch's
default cold-item map (a ridge map from an item's bag of words to the warm items' graph
embeddings, refitted at every evaluation), and, from the same trained model, by the text
tower instead (``text_cold_embedding="tower"``, the branch's earlier behaviour).

**Warm items.** ml-100k random 80/10/10 per user (seed 0), the same method with and
without the text branch, test metrics of the best valid epoch.

Settings as ``benchmarks/run.py`` (dim 64, 3 layers, batch 2048, L2 1e-4) but
``--lr`` (default 5e-3, for both arms, so both converge within the budget), each fit
bounded by ``--budget-minutes`` of the process's CPU (``budget_clock="cpu"``; every time
here is CPU seconds), one torch thread.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time

import numpy as np
import scipy.sparse as sp
import torch
from common import RESULTS, command_line, environment, load_split, merge_result, read_records

K = (10, 20)


def cold_split(inter, seed: int, test_frac: float = 0.2, valid_frac: float = 0.1):
    """(train, valid, test, valid_items, test_items): 20% of the items held out entirely
    for test, another 10% for validation, train on the rest."""
    rng = np.random.default_rng(seed)
    perm = rng.permutation(inter.num_items)
    n_test, n_valid = (int(round(f * inter.num_items)) for f in (test_frac, valid_frac))
    held, held_valid = np.sort(perm[:n_test]), np.sort(perm[n_test:n_test + n_valid])
    rows, vrows = np.isin(inter.items, held), np.isin(inter.items, held_valid)
    return (inter.select(~rows & ~vrows), inter.select(vrows), inter.select(rows),
            held_valid, held)


def cold_metrics(user_emb, item_emb, test, held) -> dict[str, float]:
    """Each user ranks the held-out items only."""
    from gcl.metrics import evaluate

    target = sp.csr_matrix(test.to_csr()[:, held])
    return evaluate(torch.as_tensor(user_emb, dtype=torch.float32),
                    torch.as_tensor(np.asarray(item_emb)[held], dtype=torch.float32), target,
                    None, K)


def tfidf_knn(texts, train, held, knn: int = 50):
    """(user, item) factors whose product is the TF-IDF item-k-NN score."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from gcl.text import tokenize

    vec = TfidfVectorizer(tokenizer=tokenize, lowercase=False, token_pattern=None)
    x = vec.fit_transform(texts.fillna("").tolist())
    warm = np.setdiff1d(np.arange(train.num_items), held)
    sim = (x[held] @ x[warm].T).toarray()  # rows L2-normalised: cosine
    keep = np.argsort(-sim, axis=1)[:, :knn]
    # scores[u, h] = sum_i r[u, i] s[h, i], s the k nearest train items' similarities
    item = np.zeros((train.num_items, train.num_items), np.float32)
    item[held[:, None], warm[keep]] = np.take_along_axis(sim, keep, 1)
    r = train.to_csr().toarray().astype(np.float32)
    r[r > 0] = 1
    return r, item


def tower_alone(texts, train, dim: int, steps: int, seed: int, word_dim: int,
                word_epochs: int):
    """Text tower trained on its contrastive task only; user = mean of history vectors."""
    from gcl.nn.text_tower import TextBranch
    from gcl.text import train_word2vec

    torch.manual_seed(seed)
    wv = train_word2vec(texts.dropna(), dim=word_dim, epochs=word_epochs, seed=seed)
    pooled, counts = wv.pool(texts)
    branch = TextBranch(pooled, counts > 0, torch.zeros(len(texts), dtype=torch.bool),
                        wv.vectors, train.num_users, dim, rec_weight=0.0)
    branch.prepare(train.to_csr().T)
    opt = torch.optim.Adam(branch.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        loss = sum(branch.contrastive(gen).values())
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        item = torch.nn.functional.normalize(branch.text_embedding(), dim=1).numpy()
    r = train.to_csr()
    r.data[:] = 1
    user = np.asarray(r @ item) / np.maximum(np.asarray(r.sum(1)), 1)
    return user, item


def _setting(kv: str) -> tuple[str, object]:
    key, _, value = kv.partition("=")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def make(method: str, args, text: bool):
    from gcl import GraphCLRecommender

    extra = {"text_rec_weight": args.text_rec_weight, "text_weight": args.text_weight,
             "text_loss": args.text_loss, "word_dim": args.word_dim,
             "word_epochs": args.word_epochs, **dict(_setting(kv) for kv in args.text)
             } if text else {}
    return GraphCLRecommender(method=method, dim=64, layers=3, lr=args.lr, batch_size=2048,
                              reg=1e-4, device="cpu", seed=args.seed, progress=False,
                              budget_clock="cpu", **extra)


def fit(method: str, train, valid, args, item_text=None):
    """Warm protocol: early stopping on valid NDCG@20."""
    rec = make(method, args, item_text is not None)
    t0 = time.process_time()
    rec.fit(train, valid=valid, budget_seconds=args.budget_minutes * 60, item_text=item_text)
    return rec, {"epochs": len(rec.history_), "best_epoch": getattr(rec, "best_epoch_", None),
                 "seconds": round(time.process_time() - t0, 1)}


def fit_cold(method: str, train, valid, valid_items, args, item_text):
    """Cold protocol: keeps the epoch with the best NDCG@20 on the validation cold items."""
    import copy

    rec = make(method, args, True)
    best = {"ndcg@20": -1.0, "epoch": 0, "state": None}

    def on_epoch_end(history):
        m = rec.method_
        m.eval()
        with torch.no_grad():
            u, i = m.embeddings(rec.graph_)
        score = cold_metrics(u, i, valid, valid_items)["ndcg@20"]
        if score > best["ndcg@20"]:
            best.update({"ndcg@20": score, "epoch": len(history),
                         "state": copy.deepcopy(m.state_dict())})

    t0 = time.process_time()
    rec.fit(train, budget_seconds=args.budget_minutes * 60, item_text=item_text,
            on_epoch_end=on_epoch_end)
    rec.method_.load_state_dict(best["state"])
    rec.refresh_embeddings()
    return rec, {"epochs": len(rec.history_), "best_epoch": best["epoch"],
                 "valid_ndcg@20": round(best["ndcg@20"], 4),
                 "seconds": round(time.process_time() - t0, 1)}


def pick(m: dict[str, float]) -> dict[str, float]:
    return {k: round(float(m[k]), 4) for k in ("recall@20", "ndcg@20", "recall@10", "ndcg@10")}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="ml-100k")
    p.add_argument("--method", default="lightgcn")
    p.add_argument("--budget-minutes", type=float, default=3.0, help="per graph fit")
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--tower-steps", type=int, default=300)
    p.add_argument("--text-rec-weight", type=float, default=5.0)
    p.add_argument("--text-weight", type=float, default=0.1)
    p.add_argument("--text-loss", default="bce", choices=("bce", "infonce"))
    p.add_argument("--word-dim", type=int, default=64)
    p.add_argument("--text", action="append", default=[], metavar="KEY=VALUE",
                   help="another text setting, e.g. --text text_hidden=64")
    p.add_argument("--word-epochs", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--skip-warm", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    import gcl
    from gcl import load_dataset
    from gcl.text import align_text

    t_start = time.process_time()
    ds = load_dataset(args.dataset)
    if ds.item_text is None:
        sys.exit(f"{args.dataset} has no item text")
    inter = ds.interactions
    texts = align_text(ds.item_text, inter.item_ids)
    train, valid, test, valid_items, held = cold_split(inter, args.seed)
    cold: dict[str, dict] = {}

    rng = np.random.default_rng(args.seed)
    draws = [cold_metrics(rng.normal(size=(inter.num_users, 16)),
                          rng.normal(size=(inter.num_items, 16)), test, held)
             for _ in range(10)]
    cold["random"] = pick({k: np.mean([d[k] for d in draws]) for k in draws[0]})
    cold["tf-idf item k-NN"] = pick(cold_metrics(*tfidf_knn(texts, train, held), test, held))
    t0 = time.process_time()
    cold["text tower alone"] = pick(cold_metrics(
        *tower_alone(texts, train, 64, args.tower_steps, args.seed, args.word_dim,
                     args.word_epochs), test, held))
    print(f"tower alone: {time.process_time() - t0:.0f}s", flush=True)
    rec, info = fit_cold(args.method, train, valid, valid_items, args, ds.item_text)
    cold[f"{args.method} + text branch"] = {
        **pick(cold_metrics(rec.user_embeddings(), rec.item_embeddings(), test, held)), **info}
    branch = rec.method_.text
    with torch.no_grad():
        tower = branch.text_embedding().cpu().numpy()
    items = rec.item_embeddings().copy()
    items[held] = tower[held]
    cold[f"{args.method} + text branch, cold items by the tower"] = pick(
        cold_metrics(rec.user_embeddings(), items, test, held))
    print(json.dumps(cold, indent=1), flush=True)

    warm: dict[str, dict] = {}
    if not args.skip_warm:
        tr, va, te, _ = load_split(args.dataset)
        for name, text in ((args.method, None), (f"{args.method} + text branch", ds.item_text)):
            rec, info = fit(args.method, tr, va, args, text)
            warm[name] = {**pick(rec.evaluate(te, k=list(K))), **info}
            print(name, warm[name], flush=True)

    record = {
        "dataset": args.dataset, "method": args.method, "seed": args.seed,
        "held_out_items": int(len(held)), "cold_test_interactions": int(len(test)),
        "valid_items": int(len(valid_items)),
        "settings": {"dim": 64, "layers": 3, "lr": args.lr, "batch_size": 2048, "reg": 1e-4,
                     "budget_minutes": args.budget_minutes, "tower_steps": args.tower_steps,
                     "text_rec_weight": args.text_rec_weight, "text_weight": args.text_weight,
                     "text_loss": args.text_loss, "word_dim": args.word_dim,
                     "word_epochs": args.word_epochs, "text": args.text,
                     "threads": args.threads},
        "cold": cold, "warm": warm, "total_seconds": round(time.process_time() - t_start),
        "gcl_version": gcl.__version__, "torch": torch.__version__,
        "python": platform.python_version(),
        "command": command_line("cold_start.py", argv),
    }
    record["env"] = environment(args.threads, record["command"])
    merge_result(RESULTS / "cold_start" / f"{args.dataset}.json", args.dataset, record)
    (RESULTS / "cold_start.md").write_text(markdown(record))
    return record


def markdown(r: dict) -> str:
    lines = [f"# Cold start: {r['dataset']}", "",
             f"Made by `{r['command'].strip()}` in {r['total_seconds']} s "
             f"({r['settings']['threads']} torch thread).", "",
             f"**Cold items**: {r['held_out_items']} items (20%, seed {r['seed']}) held out "
             f"entirely ({r['cold_test_interactions']} interactions); each user ranks the "
             "held-out items only. The graph model's epoch is chosen on another "
             f"{r.get('valid_items', '10%')} held-out items. Item text: title, year and "
             "genres from `u.item` (the shared copy is the known-faulty one: month names in "
             "titles replaced by digits; genres intact).", "",
             "| method | Recall@20 | NDCG@20 |", "|---|---|---|"]
    lines += [f"| {k} | {v['recall@20']:.4f} | {v['ndcg@20']:.4f} |" for k, v in r["cold"].items()]
    if r["warm"]:
        lines += ["", "**Warm items**: random 80/10/10 per user (seed 0), full ranking.", "",
                  "| method | Recall@20 | NDCG@20 | epochs | s |", "|---|---|---|---|---|"]
        lines += [f"| {k} | {v['recall@20']:.4f} | {v['ndcg@20']:.4f} | {v['epochs']} | "
                  f"{v['seconds']:.0f} |" for k, v in r["warm"].items()]
    lines += ["", "Settings: " + json.dumps(r["settings"]), ""]
    return "\n".join(lines)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--markdown-only"]:  # rewrite the page from the JSON
        rec = read_records(RESULTS / "cold_start" / f"{sys.argv[2]}.json")[sys.argv[2]]
        (RESULTS / "cold_start.md").write_text(markdown(rec))
    else:
        main()
