"""RecBole 1.2.1 as a peer: the same split, model settings and thread count as gcl.

    python benchmarks/peers/recbole.py --dataset gowalla --model LightGCN --epochs 1
    python benchmarks/peers/recbole.py --dataset gowalla --model SGL --batches 20
    python benchmarks/peers/recbole.py --dataset ml-100k --model SGL --epochs 10

Run from gcl's environment, it (1) creates ``benchmarks/peers/.venv-recbole`` if missing and
installs RecBole there (``torch==2.13.0`` first, the CPU wheel, so nothing pulls CUDA; then
``recbole==1.2.1`` with ``numpy<2``, ``pandas<3``, ``scipy<1.12``, ``setuptools>=77,<81``,
the only pins under which it installs and runs); (2) writes gcl's split of the dataset as
RecBole atomic files ``<name>.train.inter`` / ``.valid.inter`` / ``.test.inter`` in
``benchmarks/.cache/recbole/`` (read through ``benchmark_filename``); (3) runs itself inside
that environment to train the model for ``--epochs`` epochs with RecBole's own trainer
(``Trainer._train_epoch``, wall and process CPU seconds per epoch), and exports the final
user and item embeddings; (4) evaluates those embeddings here with
:func:`gcl.metrics.evaluate`, the same full-ranking code that scores gcl, and prints one
JSON record. With ``--batches N`` it times N batches of ``_train_epoch`` after
``--warmup`` and the per-epoch view building (``model.train()``, where RecBole's SGL
builds its subgraphs) instead, and derives seconds per epoch from them (no metrics).

Splits: gowalla's given train/test (RecBole needs a valid file: it gets each user's first
train interaction, a subset of train, which is never evaluated, so test masks exactly the
train items); ml-100k: gcl's random 80/10/10 split per user, seed 0 (test masks train and
valid). Settings: dim 64, 3 layers, lr 1e-3, batch 2048, L2 weight 1e-4, one uniform
negative, seed 0; SGL with gcl's sgl-ed values (edge drop 0.1, InfoNCE weight 0.1,
temperature 0.2). RecBole's SGL contrasts each batch node with all users (items) of the
other view, gcl's with the batch's; both are SGL's paper.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-recbole"
CACHE = HERE.parent / ".cache" / "recbole"
PINS = ["recbole==1.2.1", "numpy<2", "pandas<3", "scipy<1.12", "setuptools>=77,<81"]
sys.path.insert(0, str(HERE.parent))
from common import SETTINGS  # noqa: E402 - stdlib only, so it imports in RecBole's environment

SGL = dict(type="ED", drop_ratio=0.1, ssl_weight=0.1, ssl_tau=0.2)


def venv_python() -> Path:
    """RecBole's interpreter, after creating and filling its environment if missing."""
    sys.path.insert(0, str(HERE))
    from peer_env import peer_python

    return peer_python(VENV, PINS)


def splits(dataset: str):
    """gcl's (train, valid or None, test) of a dataset, as the speed benchmark uses them."""
    from gcl import load_dataset

    ds = load_dataset(dataset)
    if ds.splits:
        return ds.splits["train"], ds.splits.get("valid"), ds.splits["test"]
    return ds.interactions.split("random", ratios=(0.8, 0.1, 0.1), seed=0)


def _name(dataset: str) -> str:
    """RecBole's name of our copy (its own names, e.g. ml-100k, point into its package)."""
    return f"gcl-{dataset}"


def write_atomic_files(dataset: str, train, valid, test) -> Path:
    """The split as RecBole atomic files, tokens = gcl's internal indices."""
    import numpy as np

    from gcl.export import atomic_write

    folder = CACHE / _name(dataset)
    folder.mkdir(parents=True, exist_ok=True)
    if valid is None:  # each user's first train interaction: a stand-in RecBole needs
        _, first = np.unique(train.users, return_index=True)
        valid = train.select(np.sort(first))
    for part, inter in (("train", train), ("valid", valid), ("test", test)):
        path = folder / f"{_name(dataset)}.{part}.inter"
        body = "\n".join(f"{u}\t{i}" for u, i in zip(inter.users.tolist(), inter.items.tolist()))
        with atomic_write(path, "w") as f:
            f.write("user_id:token\titem_id:token\n" + body + "\n")
    return CACHE


def base_config(dataset: str, data_path: Path, epochs: int, seed: int = 0) -> dict:
    """RecBole's configuration of a run on the atomic files of :func:`write_atomic_files`
    (under :obj:`data_path`): dim, lr and batch size of :obj:`SETTINGS`, one uniform
    negative, :obj:`epochs` epochs, no evaluation, CPU, :obj:`seed`. Each model adds its
    own settings (layers, L2 weight, ...)."""
    return dict(
        data_path=str(data_path), dataset=_name(dataset),
        benchmark_filename=["train", "valid", "test"],
        load_col={"inter": ["user_id", "item_id"]}, USER_ID_FIELD="user_id",
        ITEM_ID_FIELD="item_id", embedding_size=SETTINGS["dim"], learning_rate=SETTINGS["lr"],
        train_batch_size=SETTINGS["batch_size"], epochs=epochs, eval_step=0,
        train_neg_sample_args={"distribution": "uniform", "sample_num": 1},
        seed=seed, reproducibility=True, show_progress=False, use_gpu=False, worker=0,
        checkpoint_dir=str(data_path / "saved"), log_wandb=False)


def train_epochs(trainer, train_data, epochs: int, label: str,
                 before_epoch=None) -> tuple[list[float], list[float]]:
    """Runs :obj:`epochs` epochs of RecBole's ``trainer._train_epoch`` (each after
    :obj:`before_epoch(epoch)` if given, timed with it); returns the wall and process CPU
    seconds of each epoch."""
    seconds, cpu = [], []
    for epoch in range(epochs):
        t, c = time.perf_counter(), time.process_time()
        if before_epoch is not None:
            before_epoch(epoch)
        trainer._train_epoch(train_data, epoch)
        seconds.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        print(f"{label} epoch {epoch + 1}: {seconds[-1]:.1f}s ({cpu[-1]:.1f} CPU s)",
              flush=True)
    return seconds, cpu


def save_embeddings(out: Path, users, items, dataset, seconds: list[float],
                    cpu: list[float], **info) -> None:
    """Writes RecBole's final user and item embeddings :obj:`[rows, d]` with the tokens of
    their rows (gcl's indices; row 0 is RecBole's padding) and the epoch seconds."""
    import numpy as np

    np.savez(out, users=users.detach().numpy(), items=items.detach().numpy(),
             user_tokens=np.asarray(dataset.field2id_token["user_id"]),
             item_tokens=np.asarray(dataset.field2id_token["item_id"]),
             seconds=np.asarray(seconds), cpu_seconds=np.asarray(cpu),
             peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **info)


def score(z, train, test, exclude) -> dict:
    """gcl's test Recall@20 / NDCG@20 of the embeddings in :obj:`z` (as written by
    :func:`save_embeddings`), the items of :obj:`exclude` (CSR) masked; users or items
    RecBole never saw keep zero rows."""
    import numpy as np
    import torch

    from gcl.metrics import evaluate

    # RecBole's row r is token z[...][r] (row 0 is its padding); tokens are gcl's indices.
    user_emb = np.zeros((train.num_users, z["users"].shape[1]), np.float32)
    item_emb = np.zeros((train.num_items, z["items"].shape[1]), np.float32)
    ut, it = z["user_tokens"][1:].astype(np.int64), z["item_tokens"][1:].astype(np.int64)
    user_emb[ut], item_emb[it] = z["users"][1:], z["items"][1:]
    return evaluate(torch.from_numpy(user_emb), torch.from_numpy(item_emb), test.to_csr(),
                    exclude, k=[20])


def load_model(config, create_dataset, data_preparation, get_model):
    """Inside a RecBole environment: seeds, the dataset and its train loader, and the model
    of :obj:`config` (RecBole's or RecBole-GNN's functions, given); returns
    ``(dataset, train_data, model, load_s)``."""
    from recbole.utils import init_seed

    init_seed(config["seed"], config["reproducibility"])
    t0 = time.perf_counter()
    dataset = create_dataset(config)
    train_data, _, _ = data_preparation(config, dataset)
    load_s = time.perf_counter() - t0
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    return dataset, train_data, model, load_s


def inside(args: argparse.Namespace) -> None:
    """Runs in RecBole's environment: train, time each epoch, export the embeddings."""
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.trainer import Trainer
    from recbole.utils import get_model

    cfg = {**base_config(args.dataset, args.data_path, args.epochs),
           "n_layers": SETTINGS["layers"], "reg_weight": SETTINGS["reg"],
           **(SGL if args.model == "SGL" else {})}
    config = Config(model=args.model, config_dict=cfg)
    dataset, train_data, model, load_s = load_model(config, create_dataset, data_preparation,
                                                    get_model)
    trainer = Trainer(config, model)
    info = dict(load_s=load_s, threads=torch.get_num_threads(), batches=len(train_data),
                version=__import__("recbole").__version__)
    if args.budget:
        np.savez(args.out, **info, **_curve(args, model, trainer, train_data, dataset))
        return
    if args.batches:
        info.update(_time_batches(args, model, trainer, train_data))
        np.savez(args.out, peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                 / 1024, **info)
        return
    seconds, cpu = train_epochs(trainer, train_data, args.epochs, f"RecBole {args.model}")
    model.eval()
    with torch.no_grad():
        users, items = model.forward(model.train_graph) if args.model == "SGL" else \
            model.forward()
    save_embeddings(args.out, users, items, dataset, seconds, cpu, **info)


def _curve(args: argparse.Namespace, model, trainer, train_data, dataset) -> dict:
    """Epochs of ``Trainer._train_epoch`` until their process CPU seconds reach
    ``args.budget``; after each, the embeddings (rows by gcl index, as :func:`score` reads
    them) and the CPU seconds of computing them, apart from the epoch's."""
    import numpy as np
    import torch

    users, items, train_cpu, embed_cpu = [], [], [], []
    while sum(train_cpu) < args.budget:
        label = f"RecBole {args.model} {len(train_cpu) + 1}"
        train_cpu += train_epochs(trainer, train_data, 1, label)[1]
        c = time.process_time()
        model.eval()
        with torch.no_grad():
            u, i = model.forward()
        model.train()
        embed_cpu.append(time.process_time() - c)
        users.append(u.numpy().copy())
        items.append(i.numpy().copy())
    return dict(users=np.stack(users), items=np.stack(items), train_cpu=np.asarray(train_cpu),
                embed_cpu=np.asarray(embed_cpu),
                user_tokens=np.asarray(dataset.field2id_token["user_id"]),
                item_tokens=np.asarray(dataset.field2id_token["item_id"]),
                peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


class _Enough(Exception):
    pass


def _time_batches(args: argparse.Namespace, model, trainer, train_data) -> dict:
    """Seconds of the per-epoch view building (``model.train()``, where RecBole's SGL
    builds its subgraphs) and per batch of ``Trainer._train_epoch``, over ``args.batches``
    batches after ``args.warmup``."""
    t, c = time.perf_counter(), time.process_time()
    model.train()
    views = (time.perf_counter() - t, time.process_time() - c)
    calls, marks = [0], {}

    def loss(interaction):
        calls[0] += 1
        if calls[0] in (args.warmup + 1, args.warmup + args.batches + 1):
            marks[calls[0]] = (time.perf_counter(), time.process_time())
        if calls[0] > args.warmup + args.batches:
            raise _Enough
        return model.calculate_loss(interaction)

    try:
        trainer._train_epoch(train_data, 0, loss_func=loss)
    except _Enough:
        pass
    (t0, c0), (t1, c1) = marks[args.warmup + 1], marks[args.warmup + args.batches + 1]
    return dict(views_s=views[0], views_cpu_s=views[1], timed_batches=args.batches,
                warmup_batches=args.warmup, per_batch_s=(t1 - t0) / args.batches,
                per_batch_cpu_s=(c1 - c0) / args.batches)


def _run_inside(dataset: str, model: str, data_path: Path, out: Path, threads: int,
                *args: str) -> None:
    """Runs this file's :func:`inside` in RecBole's environment with :obj:`threads` threads,
    writing :obj:`out`; :obj:`args` are the run's own flags."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": ""}
    # -P: this file's folder off sys.path, else this file would shadow the recbole package.
    subprocess.run([str(venv_python()), "-P", __file__, "--inside", "--dataset", dataset,
                    "--model", model, "--threads", str(threads), *args,
                    "--data-path", str(data_path), "--out", str(out)], check=True, env=env,
                   cwd=CACHE)  # RecBole writes its logs into the working folder


def curve(dataset: str, model: str, split, budget: float, threads: int = 1):
    """Trains RecBole's :obj:`model` on :obj:`split` ``(train, valid or None, test)`` for
    whole epochs until their process CPU seconds reach :obj:`budget` (RecBole's data
    loading left out; no evaluation inside); returns the ``.npz`` of :func:`_curve`: per
    epoch, the embeddings and the CPU seconds of training and of computing them."""
    import numpy as np

    out = CACHE / f"{dataset}.{model}.curve.npz"
    _run_inside(dataset, model, write_atomic_files(dataset, *split), out, threads,
                "--epochs", "1", "--budget", str(budget))
    return np.load(out)


def run(dataset: str, model: str, epochs: int, threads: int = 1, batches: int = 0,
        warmup: int = 3) -> dict:
    """Trains RecBole's :obj:`model` for :obj:`epochs` on gcl's split of :obj:`dataset` and
    returns its seconds per epoch and test metrics (scored by gcl's evaluation); with
    :obj:`batches`, times that many batches after :obj:`warmup` instead, and returns the
    seconds per epoch derived from them (no metrics)."""
    import numpy as np


    train, valid, test = splits(dataset)
    out = CACHE / f"{dataset}.{model}.npz"
    _run_inside(dataset, model, write_atomic_files(dataset, train, valid, test), out, threads,
                "--epochs", str(epochs), "--batches", str(batches), "--warmup", str(warmup))
    z = np.load(out)
    command = (f"python benchmarks/peers/recbole.py --dataset {dataset} --model {model} "
               + (f"--batches {batches} --warmup {warmup}" if batches else f"--epochs {epochs}")
               + f" --threads {threads}")
    head = {"peer": f"RecBole {z['version']}", "model": model, "dataset": dataset,
            "batches_per_epoch": int(z["batches"]), "load_seconds": float(z["load_s"]),
            "peak_rss_mb": float(z["peak_rss_mb"]), "threads": int(z["threads"]),
            "command": command}
    if batches:
        n = int(z["batches"])
        return {**head, "measured": f"{batches} batches after {warmup}, derived per epoch",
                "timed_batches": batches, "seconds_per_batch": float(z["per_batch_s"]),
                "cpu_seconds_per_batch": float(z["per_batch_cpu_s"]),
                "views_seconds": float(z["views_s"]), "views_cpu_seconds": float(z["views_cpu_s"]),
                "seconds_per_epoch": float(z["views_s"]) + n * float(z["per_batch_s"]),
                "cpu_seconds_per_epoch": float(z["views_cpu_s"])
                + n * float(z["per_batch_cpu_s"])}
    exclude = train.to_csr() if valid is None else (train.to_csr() + valid.to_csr())
    t = time.perf_counter()
    metrics = score(z, train, test, exclude)
    seconds, cpu = z["seconds"].tolist(), z["cpu_seconds"].tolist()
    return {**head, "measured": f"{epochs} full epoch(s)", "epochs": epochs,
            "seconds_per_epoch": sum(seconds) / len(seconds), "epoch_seconds": seconds,
            "cpu_seconds_per_epoch": sum(cpu) / len(cpu),
            "recall@20": metrics["recall@20"], "ndcg@20": metrics["ndcg@20"],
            "gcl_eval_seconds": time.perf_counter() - t}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dataset", default="ml-100k")
    p.add_argument("--model", default="LightGCN", choices=["LightGCN", "SGL"])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batches", type=int, default=0,
                   help="time this many batches (after --warmup) instead of whole epochs")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--budget", type=float, default=0.0, help=argparse.SUPPRESS)
    p.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--data-path", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.inside:
        inside(args)
    else:
        print(json.dumps(run(args.dataset, args.model, args.epochs, args.threads, args.batches,
                             args.warmup), indent=2))


if __name__ == "__main__":
    main()
