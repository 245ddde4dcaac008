"""SELFRec as a peer: its own model code, on gcl's split, run on CPU, scored by gcl.

    python benchmarks/peers/selfrec.py --dataset ml-100k --model SimGCL --epochs 20

Run from gcl's environment, it (1) needs SELFRec's source in ``benchmarks/peers/SELFRec``
(git-ignored; cloned from GitHub at :obj:`COMMIT` if missing) and creates
``benchmarks/peers/.venv-selfrec`` if missing (``torch==2.13.0`` first, the CPU wheel, then
SELFRec's other requirements); (2) writes gcl's split as SELFRec's ``user item 1`` files,
tokens = gcl's internal indices, in ``benchmarks/.cache/selfrec/``; (3) runs itself inside
that environment, where SELFRec's model class trains with its own loop for ``--epochs``
epochs. SELFRec calls ``.cuda()`` unconditionally: inside, ``Tensor.cuda`` and
``Module.cuda`` are made no-ops before its code is imported (a patch in this harness; its
files are not changed), and NCL's ``faiss.Kmeans(..., gpu=True)`` runs on CPU with at most
one cluster per row (:func:`peer_env.cpu_faiss`); its per-epoch evaluation on test is
skipped, and the embeddings taken are the last epoch's, not the best on test; CPU seconds
are ``time.process_time()`` over its ``train()``; (4) evaluates those embeddings here with
:func:`gcl.metrics.evaluate`, train items masked (SELFRec masks them too).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "SELFRec"
VENV = HERE / ".venv-selfrec"
CACHE = HERE.parent / ".cache" / "selfrec"
URL, COMMIT = "https://github.com/Coder-Yu/SELFRec", "5b0229423cb1c727e85a704d63e460368c8b9dde"
REQUIREMENTS = ["numpy", "scipy", "PyYAML", "numba", "faiss-cpu"]
#: The settings every model shares, in SELFRec's configuration keys.
COMMON = {"embedding.size": 64, "batch.size": 2048, "learning.rate": 0.001,
          "reg.lambda": 0.0001, "item.ranking.topN": [10, 20]}


def venv_python() -> Path:
    """SELFRec's interpreter, after fetching its source and filling its environment."""
    if not (SRC / "SELFRec.py").exists():
        subprocess.run(["git", "clone", URL, str(SRC)], check=True)
        subprocess.run(["git", "-C", str(SRC), "checkout", COMMIT], check=True)
    sys.path.insert(0, str(HERE))
    from peer_env import peer_python

    return peer_python(VENV, REQUIREMENTS)


def write_files(dataset: str, train, test) -> tuple[Path, Path]:
    from gcl.export import atomic_write

    CACHE.mkdir(parents=True, exist_ok=True)
    paths = []
    for part, inter in (("train", train), ("test", test)):
        path = CACHE / f"{dataset}.{part}.txt"
        body = "".join(f"{u} {i} 1\n" for u, i in zip(inter.users.tolist(),
                                                        inter.items.tolist()))
        with atomic_write(path, "w") as f:
            f.write(body)
        paths.append(path)
    return paths[0], paths[1]


def inside(args: argparse.Namespace) -> None:
    """Runs in SELFRec's environment: train with its loop, mark CPU time per epoch, export."""
    import importlib
    import random
    import types

    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    torch.Tensor.cuda = lambda self, *a, **k: self  # the CPU patch
    torch.nn.Module.cuda = lambda self, *a, **k: self
    sys.path.insert(0, str(SRC))
    sys.path.append(str(HERE))
    from peer_env import cpu_faiss

    if args.model == "NCL":  # its E-step asks Faiss for a GPU (from epoch 21 on)
        cpu_faiss()
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    from data.loader import FileIO
    from util.conf import ModelConf

    conf = ModelConf(str(args.conf))
    train = FileIO.load_data_set(conf["training.set"], "graph")
    test = FileIO.load_data_set(conf["test.set"], "graph")
    cls = getattr(importlib.import_module(f"model.graph.{args.model}"), args.model)
    rec = cls(conf, train, test)
    # Its per-epoch evaluation on test (and choice of the best epoch on test) is skipped;
    # save() keeps the attribute that train() ends by reading.
    rec.fast_evaluation = types.MethodType(lambda self, epoch: self.save(), rec)
    cpu, wall = time.process_time(), time.perf_counter()
    rec.train()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    rec.save()  # the last epoch's embeddings
    users = sorted(rec.data.user, key=rec.data.user.get)
    items = sorted(rec.data.item, key=rec.data.item.get)
    np.savez(args.out, users=rec.best_user_emb.detach().numpy(),
             items=rec.best_item_emb.detach().numpy(),
             user_tokens=np.asarray(users, dtype=np.int64),
             item_tokens=np.asarray(items, dtype=np.int64), epochs=rec.maxEpoch,
             cpu_seconds=cpu, seconds=wall, threads=torch.get_num_threads())


def run(dataset: str, model: str, settings: dict, epochs: int, train, test,
        threads: int = 1, seed: int = 0) -> dict:
    """Trains SELFRec's :obj:`model` with :obj:`settings` (its configuration section) for
    :obj:`epochs` on :obj:`train`; returns its test Recall@20 / NDCG@20 (gcl's evaluation,
    train items masked) and seconds per epoch."""
    import numpy as np
    import torch
    import yaml

    from gcl.metrics import evaluate

    python = venv_python()
    train_path, test_path = write_files(dataset, train, test)
    conf = {"training.set": str(train_path), "test.set": str(test_path),
            "model": {"name": model, "type": "graph"}, **COMMON, "max.epoch": epochs,
            model: settings, "output": str(CACHE / "results") + "/"}
    conf_path = CACHE / f"{dataset}.{model}.yaml"
    conf_path.write_text(yaml.safe_dump(conf))
    out = CACHE / f"{dataset}.{model}.npz"
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": ""}
    subprocess.run([str(python), "-P", __file__, "--inside", "--model", model, "--conf",
                    str(conf_path), "--threads", str(threads), "--seed", str(seed),
                    "--out", str(out)],
                   check=True, env=env, cwd=CACHE)  # SELFRec writes its log into ./log
    z = np.load(out)
    user_emb = np.zeros((train.num_users, z["users"].shape[1]), np.float32)
    item_emb = np.zeros((train.num_items, z["items"].shape[1]), np.float32)
    user_emb[z["user_tokens"]], item_emb[z["item_tokens"]] = z["users"], z["items"]
    metrics = evaluate(torch.from_numpy(user_emb), torch.from_numpy(item_emb), test.to_csr(),
                       train.to_csr(), k=[20])
    n = int(z["epochs"])
    return {"library": f"SELFRec {COMMIT[:7]}", "model": model, "settings": settings,
            "epochs": n, "threads": int(z["threads"]),
            "recall@20": metrics["recall@20"], "ndcg@20": metrics["ndcg@20"],
            "cpu_seconds_per_epoch": float(z["cpu_seconds"]) / n,
            "seconds_per_epoch": float(z["seconds"]) / n}


def main(argv: list[str] | None = None) -> None:
    sys.path.insert(0, str(HERE))
    from peer_env import peer_arguments

    args = peer_arguments(__doc__.split("\n")[0], "LightGCN",
                          {"--conf": {"type": Path}}).parse_args(argv)
    if args.inside:
        inside(args)
        return
    sys.path.insert(0, str(HERE.parent))
    from common import load_split
    from reproduce import PAIRS

    train, _, test, _ = load_split(args.dataset)
    settings = next(s for m, s, *_ in PAIRS if m == args.model)
    print(json.dumps(run(args.dataset, args.model, settings, args.epochs, train, test,
                         args.threads, args.seed), indent=2))


if __name__ == "__main__":
    main()
