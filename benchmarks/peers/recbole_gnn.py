"""RecBole-GNN as a peer: its own model code and trainer, on gcl's split, run on CPU, scored
by gcl.

    python benchmarks/peers/recbole_gnn.py --dataset ml-100k --model LightGCL --epochs 20

Run from gcl's environment, it (1) needs RecBole-GNN's source in
``benchmarks/peers/RecBole-GNN`` (git-ignored; cloned from GitHub at :obj:`COMMIT` if
missing; put on ``sys.path``, not installed) and creates ``benchmarks/peers/.venv-recbole-gnn``
if missing (``torch==2.13.0`` first, the CPU wheel, then RecBole's pins of
``recbole.py``, ``torch_geometric`` and ``faiss-cpu``; not ``torch_sparse``, so RecBole-GNN
takes its own dense ``edge_index`` path, ``enable_sparse`` off); (2) writes gcl's split as
RecBole atomic files (:func:`recbole.write_atomic_files`); (3) runs itself inside that
environment: RecBole-GNN's ``Config``, dataset, model and trainer (its ``get_trainer``:
``NCLTrainer`` for NCL), ``_train_epoch`` for ``--epochs`` epochs, NCL's E-step before
each epoch as ``NCLTrainer.fit`` runs it (timed with the epoch), no evaluation; the final
embeddings are those its ``full_sort_predict`` ranks with (``restore_user_e`` /
``restore_item_e``, or DirectAU's MF tables); CPU seconds are
``time.process_time()`` per epoch; (4) evaluates them here with
:func:`gcl.metrics.evaluate`, train items masked.

Patches in this harness (its files are not changed): its ``model/layers.py`` imports
``torch_sparse.matmul`` for the SparseTensor path only, so a stand-in ``torch_sparse``
module (after ``torch_geometric`` is imported, which then knows it has none) holds a
``matmul`` that refuses to run, and no ``SparseTensor``, so its dataset takes the dense
path; NCL's ``faiss.Kmeans(..., gpu=True)``
runs on CPU, and with at most as many clusters as rows (gcl's k-means does the same; Faiss
refuses fewer rows than clusters, and ml-100k has 943 users for NCL's 1000 clusters).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SRC = HERE / "RecBole-GNN"
VENV = HERE / ".venv-recbole-gnn"
CACHE = HERE.parent / ".cache" / "recbole-gnn"
URL, COMMIT = "https://github.com/RUCAIBox/RecBole-GNN", "632ef888589944c190ad8f449b49ca559618d4df"


def _sibling(name: str):
    """The harness module ``<name>.py`` next to this file, loaded by its path under another
    module name: inside RecBole-GNN's environment ``recbole`` is RecBole's package, and
    this folder on ``sys.path`` would put this file in place of the ``recbole_gnn``
    package (a folder without ``__init__.py``)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"gcl_peer_{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


peer = _sibling("recbole")


def venv_python() -> Path:
    """RecBole-GNN's interpreter, after fetching its source and filling its environment."""
    if not (SRC / "recbole_gnn").exists():
        subprocess.run(["git", "clone", URL, str(SRC)], check=True)
        subprocess.run(["git", "-C", str(SRC), "checkout", COMMIT], check=True)
    sys.path.insert(0, str(HERE))
    from peer_env import peer_python

    return peer_python(VENV, [*peer.PINS, "torch_geometric", "faiss-cpu"])


def _no_torch_sparse() -> None:
    """The harness's stand-in ``torch_sparse``: only the name RecBole-GNN's ``layers.py``
    imports, for a path (SparseTensor) this harness never takes."""
    import types

    import torch_geometric  # noqa: F401 - first, so that it records no torch_sparse

    def matmul(*args, **kwargs):
        raise RuntimeError("torch_sparse is not installed: the dense edge_index path only")

    sys.modules["torch_sparse"] = types.ModuleType("torch_sparse")
    sys.modules["torch_sparse"].matmul = matmul


def inside(args: argparse.Namespace) -> None:
    """Runs in RecBole-GNN's environment: train with its trainer, time each epoch, export."""
    import torch

    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(SRC))
    _no_torch_sparse()
    _sibling("peer_env").cpu_faiss()
    from recbole.data.interaction import Interaction
    from recbole_gnn.config import Config
    from recbole_gnn.utils import create_dataset, data_preparation, get_model, get_trainer

    cfg = {**peer.base_config(args.dataset, args.data_path, args.epochs, args.seed),
           **json.loads(args.settings)}
    config = Config(model=args.model, config_dict=cfg)
    dataset, train_data, model, load_s = peer.load_model(config, create_dataset,
                                                         data_preparation, get_model)
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)

    def e_step(epoch: int) -> None:  # NCLTrainer.fit's, which _train_epoch leaves out
        if hasattr(model, "e_step") and epoch % config["m_step"] == 0:
            model.e_step()

    seconds, cpu = peer.train_epochs(trainer, train_data, args.epochs,
                                     f"RecBole-GNN {args.model}", e_step)
    model.eval()
    with torch.no_grad():
        model.restore_user_e = model.restore_item_e = None
        model.full_sort_predict(Interaction({model.USER_ID: torch.tensor([1])}))
        users, items = model.restore_user_e, model.restore_item_e
        if users is None:  # DirectAU's MF encoder ranks with its ID tables, kept nowhere else
            users, items = model.encoder.get_all_embeddings()
    peer.save_embeddings(args.out, users, items, dataset,
                         seconds, cpu, load_s=load_s, threads=torch.get_num_threads(),
                         batches=len(train_data), version=__import__("recbole").__version__)


def run(dataset: str, model: str, settings: dict, epochs: int, train, valid, test,
        threads: int = 1, seed: int = 0) -> dict:
    """Trains RecBole-GNN's :obj:`model` with :obj:`settings` (its configuration keys, over
    its ``properties/model/<model>.yaml`` and :func:`recbole.base_config`) for :obj:`epochs`
    on :obj:`train` (:obj:`valid` only fills RecBole's valid file); returns its test
    Recall@20 / NDCG@20 (gcl's evaluation, train items masked) and seconds per epoch."""
    python = venv_python()
    data_path = peer.write_atomic_files(dataset, train, valid, test)
    CACHE.mkdir(parents=True, exist_ok=True)
    out = CACHE / f"{dataset}.{model}.npz"
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": ""}
    # -P: this file's folder off sys.path, else recbole.py would shadow the recbole package.
    subprocess.run([str(python), "-P", __file__, "--inside", "--dataset", dataset, "--model",
                    model, "--settings", json.dumps(settings), "--epochs", str(epochs),
                    "--threads", str(threads), "--seed", str(seed), "--data-path",
                    str(data_path), "--out", str(out)],
                   check=True, env=env, cwd=CACHE)  # RecBole writes its logs into ./log
    import numpy as np

    z = np.load(out)
    metrics = peer.score(z, train, test, train.to_csr())
    seconds, cpu = z["seconds"].tolist(), z["cpu_seconds"].tolist()
    return {"library": f"RecBole-GNN {COMMIT[:7]} (RecBole {z['version']})", "model": model,
            "settings": settings, "epochs": len(seconds), "threads": int(z["threads"]),
            "recall@20": metrics["recall@20"], "ndcg@20": metrics["ndcg@20"],
            "cpu_seconds_per_epoch": sum(cpu) / len(cpu),
            "seconds_per_epoch": sum(seconds) / len(seconds)}


def main(argv: list[str] | None = None) -> None:
    args = _sibling("peer_env").peer_arguments(
        __doc__.split("\n")[0], "LightGCL",
        {"--settings": {"default": "{}"}, "--data-path": {"type": Path}}).parse_args(argv)
    if args.inside:
        inside(args)
        return
    sys.path.insert(0, str(HERE.parent))
    from common import load_split
    from reproduce import PEERS

    train, valid, test, _ = load_split(args.dataset)
    settings = next(s for m, s, *_ in PEERS["recbole-gnn"] if m == args.model)
    print(json.dumps(run(args.dataset, args.model, settings, args.epochs, train, valid, test,
                         args.threads, args.seed), indent=2))


if __name__ == "__main__":
    main()
