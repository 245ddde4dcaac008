"""What every benchmark script shares: settings, paths, the environment record, the results
files and the pipeline they train.

**Results layout.** Each script writes ``results/<name>.json`` (some in a folder of their
own, ``results/<name>/<name>.json``) and a page ``results/<name>.md`` drawn from it. A
results file maps a key (a method, a ``dataset/contender`` pair, a part of a benchmark) to a
*record*; every record holds the ``command`` that made it and an ``env``: the commit it ran
on, the CPU model, the thread count and the command (:func:`environment`).
:func:`read_records` reads that layout and the older ones (a list of rows, ``{"meta", "runs"}``,
one record per file, records nested by dataset), so the tables read every file the same
way; :func:`merge_result` adds one record to a file.

Only the standard library is imported at module level: the peers' harnesses import this
file inside their own environments, and ``--tables-only`` runs need neither torch nor gcl.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
README = ROOT / "README.md"
BENCH_README = HERE / "README.md"

#: The settings of every benchmark's trained methods unless a script says otherwise:
#: LightGCN's paper settings (dim 64, 3 layers, Adam at lr 1e-3, batch 2048, L2 1e-4).
SETTINGS: dict[str, Any] = dict(dim=64, layers=3, lr=1e-3, batch_size=2048, reg=1e-4)
#: The sequence methods step once per batch of users (one sequence each), not per batch of
#: interactions: CL4SRec's batch of 256 users and its 2 Transformer layers (seq-cl+graph's
#: ``layers`` are its LightGCN layers; its Transformer has 2), with lr 5e-3.
SEQUENCE_SETTINGS: dict[str, dict[str, Any]] = {
    "seq-cl": dict(batch_size=256, layers=2, lr=5e-3),
    "seq-cl+graph": dict(batch_size=256, lr=5e-3)}
#: Datasets without a valid split: test is evaluated every few epochs for the curve only.
LARGE = ("gowalla", "yelp2018", "amazon-book")


# ---------------------------------------------------------------------------- environment
def command_line(script: str, argv: list[str] | None = None, prefix: str = "python") -> str:
    """The command that repeats this run, as a user types it from the repository root:
    ``python benchmarks/<script> <argv>`` (arguments quoted where the shell needs it)."""
    argv = sys.argv[1:] if argv is None else argv
    return " ".join([prefix, f"benchmarks/{script}", *map(shlex.quote, argv)]).strip()


def cpu_model() -> str:
    """The CPU's model name from ``/proc/cpuinfo``, else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def commit() -> str:
    """The short commit of the checkout, with ``+changes`` when ``gcl/`` or ``benchmarks/``
    differ from it (the numbers then belong to uncommitted code); ``unknown`` outside git."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True,
                                  check=False).stdout.strip()
        except OSError:
            return ""

    head = git("rev-parse", "--short", "HEAD")
    if not head:
        return "unknown"
    dirty = git("status", "--porcelain", "--", "gcl", "benchmarks/*.py", "benchmarks/peers")
    return head + ("+changes" if dirty else "")


def environment(threads: int, command: str, device: str = "cpu") -> dict[str, Any]:
    """The record of where a result was measured: commit, CPU model, thread count, command,
    device, versions and date. Every results record carries one under ``env``."""
    env = {"commit": commit(), "cpu": cpu_model(), "threads": threads, "command": command,
           "device": device, "cpus": os.cpu_count(), "python": platform.python_version(),
           "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    for name in ("torch", "gcl"):
        module = sys.modules.get(name)
        if module is not None:
            env[name] = getattr(module, "__version__", None)
    return env


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def beside_note(rows: dict[str, dict]) -> list[str]:
    """The lines a results page adds for its rows measured while another benchmark ran on
    the machine (their ``beside`` field says what and where); none if every row ran alone."""
    beside = [name for name, r in rows.items() if r.get("beside")]
    if not beside:
        return []
    return ["Measured while another benchmark ran on the machine ("
            + "; ".join(sorted({rows[n]["beside"] for n in beside}))
            + "): " + ", ".join(f"`{n}`" for n in beside) + ". Shared caches and memory "
            "bandwidth raise CPU seconds, so their times read high against rows measured "
            "alone.", ""]


# ---------------------------------------------------------------------------- results files
def write_json(path: Path, data: Any, indent: int = 2) -> None:
    """Writes :obj:`data` to :obj:`path` whole or not at all (a temporary file renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=indent)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def merge_result(path: Path, key: str, record: dict) -> dict:
    """Stores :obj:`record` under :obj:`key` in the results file :obj:`path` and returns all
    its records. The file is read just before, as another run may have added records since
    this one began; a file of an older layout is rewritten in this one (:func:`keyed`)."""
    results = keyed(json.loads(path.read_text()), path.stem) if path.exists() else {}
    results[key] = record
    write_json(path, results)
    return results


def record_env(record: dict, parent: dict | None = None) -> dict[str, Any]:
    """The environment of a record in any of the layouts: its ``env``, completed from the
    older fields (``commit``, ``cpu``, ``threads``, ``command`` beside it or in its file's
    ``meta``). A field no one recorded is ``None``."""
    parent = parent or {}
    env = dict(record.get("env") or {})
    settings = record.get("settings") if isinstance(record.get("settings"), dict) else {}
    for key in ("commit", "cpu", "threads", "command"):
        if env.get(key) is None:
            env[key] = record.get(key, settings.get(key, parent.get(key)))
    if env.get("threads") is None:
        env["threads"] = parent.get("torch_threads", parent.get("torch_threads_per_rank"))
    if env.get("cpu") is None and parent.get("machine"):
        env["cpu"] = parent["machine"]
    for key, old in (("when", "date"), ("torch", "torch")):
        if env.get(key) is None and parent.get(old) is not None:
            env[key] = parent[old]
    return env


def _is_record(value: Any) -> bool:
    return isinstance(value, dict) and ("command" in value or "env" in value)


def keyed(data: Any, name: str) -> dict[str, dict]:
    """The records of a results file's :obj:`data` as ``{key: record}``, whatever its
    layout (:obj:`name`, the file's stem, keys a file of one record):

    * ``{key: record}`` (this module's layout): as is;
    * ``{dataset: {name: record}}`` (time to quality): keys ``dataset/name``;
    * ``[row, ...]`` (reproduce): keys ``dataset/model/seed``;
    * ``{"meta": ..., "runs": [...]}`` (scale, precision): one key per run, the file's meta
      folded into each run's ``env``;
    * one record (a file with a top-level ``command``): under its ``dataset`` or :obj:`name`.
    """
    out: dict[str, dict] = {}
    if isinstance(data, list):
        for r in data:
            out[f"{r.get('dataset')}/{r.get('peer', {}).get('model', '')}/{r.get('seed', 0)}"] = r
    elif "runs" in data and "meta" in data:
        for n, r in enumerate(data["runs"]):
            key = "/".join(str(r[k]) for k in ("method", "precision", "ranks", "interactions")
                           if k in r) or str(n)
            out[key] = {**r, "env": record_env(r, data["meta"])}
    elif "command" in data and not _is_record(next(iter(data.values()), None)):
        out[str(data.get("dataset", name))] = data
    else:
        for key, value in data.items():
            if (isinstance(value, dict) and value and not _is_record(value)
                    and all(_is_record(v) for v in value.values())):
                out.update({f"{key}/{k}": v for k, v in value.items()})
            else:
                out[key] = value
    return out


def read_records(path: Path) -> dict[str, dict]:
    """The records of the results file :obj:`path` as ``{key: record}`` (:func:`keyed`),
    each with a complete ``env`` (:func:`record_env`)."""
    path = Path(path)
    return {k: {**r, "env": record_env(r)} if isinstance(r, dict) else r
            for k, r in keyed(json.loads(path.read_text()), path.stem).items()}


def provenance(records: list[dict]) -> str:
    """``commit X, CPU, N thread(s)`` of :obj:`records`, each distinct value once."""
    def distinct(key: str) -> list[str]:
        return list(dict.fromkeys(str(r["env"].get(key)) for r in records
                                  if r["env"].get(key) is not None))

    commits = distinct("commit")
    parts = ["commit " + ", ".join(commits) if commits else "commit not recorded"]
    if commits and any(r["env"].get("commit") is None for r in records):
        parts[0] += " (not recorded for older rows)"
    cpus = distinct("cpu")
    if cpus:
        parts.append(", ".join(cpus))
    threads = distinct("threads")
    if threads:
        parts.append(", ".join(threads) + " thread(s)")
    return "; ".join(parts)


def spawn(script: Path, argv: list[str], threads: int, out_flag: str) -> dict:
    """Runs ``script argv out_flag FILE`` in a fresh process (its own peak memory, its own
    thread count) and returns the JSON record it wrote to FILE."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "record.json"
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        subprocess.run([sys.executable, str(script), *argv, out_flag, str(out)], check=True,
                       env=env)
        return json.loads(out.read_text())


# ---------------------------------------------------------------------------- data and fit
def load_split(dataset: str):
    """(train, valid or None, test, split description) as every benchmark splits
    :obj:`dataset`: its published split where it has one (with each user's last train item
    as valid on sequential data without a valid part, as the leave-one-out papers do), else
    random 80/10/10 per user with seed 0."""
    from gcl import load_dataset

    ds = load_dataset(dataset)
    if ds.splits:
        train, test = ds.splits["train"], ds.splits["test"]
        valid, split = ds.splits.get("valid"), "given"
        if valid is None and train.timestamp is not None:
            train, valid = train.split("leave_one_out", valid=False)
            split = "given leave-one-out test; valid = each user's last train item"
        return train, valid, test, split
    train, valid, test = ds.interactions.split("random", ratios=(0.8, 0.1, 0.1), seed=0)
    return train, valid, test, "random 80/10/10 per user, seed 0"


def build_pipeline(train, method: str, *, device: str = "cpu", precision: str = "fp32",
                   seed: int = 0, backend: str = "torch", init: str | None = None,
                   init_scale: float = 1.0, **method_kwargs: Any):
    """``(method, graph)`` ready to train on :obj:`train`, built as
    :meth:`gcl.GraphCLRecommender.fit` builds them: seeds, the normalised graph on
    :obj:`device`, the method moved there, its propagation precision, its per-fit state
    (``prepare``) and, with ``init="svd"``, the spectral start. For benchmarks that drive
    :class:`gcl.train.Trainer` themselves (to time batches, or a rank of a larger run)."""
    from gcl.graph import UIGraph
    from gcl.methods import build_method
    from gcl.nn.lightgcn import set_precision, set_spectral_start
    from gcl.train import seed_everything

    seed_everything(seed)
    graph = UIGraph.from_interactions(train, backend, device)
    m = build_method(method, train.num_users, train.num_items, **method_kwargs).to(device)
    set_precision(m, precision, device)
    m.prepare(train, graph)
    if init == "svd":
        set_spectral_start(m, graph, init_scale)
    return m, graph


def timed_steps(method, graph, opt, users, pos, neg, batch: int, steps: int) -> float:
    """CPU seconds (``time.process_time()``) of :obj:`steps` training steps of
    :obj:`method` (loss, backward, :obj:`opt`'s step), step :obj:`b` on rows
    ``b * batch`` to ``(b + 1) * batch`` of :obj:`users`, :obj:`pos` and :obj:`neg`."""
    start = time.process_time()
    for b in range(steps):
        sl = slice(b * batch, (b + 1) * batch)
        loss = method.loss(graph, users[sl], pos[sl], neg[sl])["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.process_time() - start


def step_batches(train, batch: int, steps: int) -> tuple:
    """The batches :func:`timed_steps` runs: :obj:`steps` x :obj:`batch` rows of
    :obj:`train` in a seeded random order, as (users, positives, one sampled negative
    each)."""
    import torch

    from gcl.data.sampler import NegativeSampler

    gen = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(train), generator=gen)[: batch * steps]
    users = torch.from_numpy(train.users)[perm]
    pos = torch.from_numpy(train.items)[perm]
    return users, pos, NegativeSampler(train, generator=gen).sample(users, 1)


def step_cases(gowalla_dims: list[int], sizes: list[int]):
    """The logs the step benchmarks time, as (case, dim, train log, batch): gowalla's train
    split at the time-to-quality batch of 32768, at each of :obj:`gowalla_dims`, then
    synthetic power-law logs of each of :obj:`sizes` interactions at dim 64, batched for
    25 steps per epoch (``scale.py``'s fixed-steps settings)."""
    import math

    from gcl.datasets.synthetic import power_law_interactions

    for dim in gowalla_dims:
        yield "gowalla", dim, load_split("gowalla")[0], 32768
    for n in sizes:
        train = power_law_interactions(n, seed=0)
        yield f"synthetic-{n}", 64, train, math.ceil(len(train) / 25)


def step_parser(doc: str, rounds: int, steps: int,
                sizes: list[int]) -> argparse.ArgumentParser:
    """The arguments of the benchmarks that time steps in two forms: ``--threads``,
    ``--rounds`` (of alternation between the forms), ``--steps`` (per form and round) and
    ``--sizes`` (of the synthetic logs, :func:`step_cases`)."""
    parser = argparse.ArgumentParser(description=doc.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--sizes", type=int, nargs="*", default=sizes)
    return parser


def measure_cases(measure, gowalla_dims: list[int], args: argparse.Namespace) -> list[dict]:
    """:obj:`measure(train, dim, batch, args)` of every case of :func:`step_cases`, at
    ``args.threads`` torch threads, each row printed as it comes."""
    import torch

    torch.set_num_threads(args.threads)
    rows = []
    for name, dim, train, batch in step_cases(gowalla_dims, args.sizes):
        rows.append({"case": name, **measure(train, dim, batch, args)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def train_config(**kwargs: Any):
    """A :class:`gcl.train.TrainConfig` for timing: no early stopping, no progress bar, no
    collapse watch, unless :obj:`kwargs` say otherwise."""
    from gcl.train import TrainConfig

    return TrainConfig(**{"patience": None, "progress": False, "collapse_epochs": None,
                          **kwargs})
