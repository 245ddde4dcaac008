"""What each ``gcl`` subcommand does, given its parsed arguments. Each returns the exit code."""
from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcl._io import atomic_write, folder_lock
from gcl.cli import run_folder as rf
from gcl.cli.config import dump_config, flag_of, resolved_config, setting_kwargs
from gcl.settings import HyperparameterError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def _say(args: argparse.Namespace, message: str) -> None:
    """A progress note on stderr, unless :obj:`--quiet`."""
    if not getattr(args, "quiet", False):
        print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- data
def load_interactions(cfg: dict[str, Any]) -> tuple[str, Any, dict]:
    """(name, whole log, published split) of a run's data: :obj:`cfg["dataset"]` (a name or
    a folder) or :obj:`cfg["data"]` (a CSV or Parquet click log) with its column flags."""
    from gcl.data.interactions import Interactions
    from gcl.datasets import load_dataset

    if cfg.get("data"):
        path = Path(cfg["data"])
        reader = Interactions.from_parquet if path.suffix == ".parquet" else Interactions.from_csv
        inter = reader(path, user=cfg["user_col"], item=cfg["item_col"],
                       rating=cfg.get("rating_col"), timestamp=cfg.get("timestamp_col"),
                       min_rating=cfg.get("min_rating"), k_core=cfg.get("k_core"),
                       time_format=cfg.get("time_format"), weights=cfg.get("weights"),
                       **({"sep": cfg["sep"]} if cfg.get("sep") and path.suffix != ".parquet"
                          else {}))
        name, given, own_text = path.stem, {}, None
    else:
        ds = load_dataset(cfg["dataset"])
        name, inter, given, own_text = ds.name, ds.interactions, ds.splits, ds.item_text
    if cfg.get("item_text"):
        text = load_item_text(cfg, inter.item_ids, own_text)
        inter = inter.with_item_text(text)
        given = {part: log.with_item_text(text) for part, log in given.items()}
    return name, inter, given


def load_item_text(cfg: dict[str, Any], item_ids: pd.Index,
                   own_text: pd.Series | None) -> pd.Series:
    """The item texts of :obj:`cfg["item_text"]`: a CSV or Parquet file (columns
    :obj:`text_id_col` and :obj:`text_col`, several text columns joined with
    :obj:`" | "`; ids read as the log's id type), or :obj:`"dataset"`, the named
    dataset's own."""
    import pandas as pd

    source = str(cfg["item_text"])
    if source == "dataset" and not Path(source).exists():
        if own_text is None:
            raise ValueError("--item-text dataset needs a --dataset that has item text "
                             "(e.g. ml-100k); give a file of item texts instead")
        return own_text
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"--item-text: no file at {path}")
    df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(
        path, dtype={cfg.get("text_id_col", "item"): str})
    id_col, text_cols = cfg.get("text_id_col", "item"), list(cfg.get("text_col") or ["text"])
    missing = [c for c in [id_col, *text_cols] if c not in df.columns]
    if missing:
        raise KeyError(f"--item-text {path}: column(s) {missing} not found; its columns are "
                       f"{list(map(str, df.columns))} (set --text-id-col / --text-col)")
    ids = df[id_col]
    if pd.api.types.is_integer_dtype(item_ids.dtype) and not pd.api.types.is_integer_dtype(ids):
        ids = pd.Index(coerce_ids(ids.astype(str).tolist(), item_ids, "item text"))
    elif not pd.api.types.is_integer_dtype(item_ids.dtype):
        ids = ids.astype(str)
    parts = df[text_cols].astype(object).where(df[text_cols].notna(), None)
    text = [" | ".join(str(v) for v in row if v is not None) or None
            for row in parts.itertuples(index=False)]
    return pd.Series(text, index=pd.Index(ids), dtype=object)


def split_data(cfg: dict[str, Any], inter: Any, given: dict) -> tuple[Any, Any, Any]:
    """(train, valid or None, test) of a run's data, as :obj:`cfg["split"]` says."""
    method = cfg["split"]
    if method == "auto":
        method = "given" if given else "random"
    if method == "given":
        if not given:
            raise ValueError("--split given, but this data has no published split")
        return given["train"], given.get("valid"), given["test"]
    if method == "leave_one_out":
        return inter.split("leave_one_out", valid=True)
    parts = inter.split(method, ratios=tuple(cfg["ratios"]), **(
        {"seed": cfg["seed"]} if method == "random" else {}))
    return parts if len(parts) == 3 else (parts[0], None, parts[1])


def _run_paths(target: str) -> tuple[Path, Path]:
    """(run folder, model file) of a :obj:`--run` value: a run folder or a model file."""
    path = Path(target)
    if path.is_dir():
        model = path / rf.MODEL
        if not model.is_file():
            raise FileNotFoundError(f"{path} holds no {rf.MODEL}: is it a run folder written "
                                    "by gcl train?")
        return path, model
    if path.is_file():
        return path.parent, path
    raise FileNotFoundError(f"no run folder or model file at {path}")


def _load_model(target: str) -> tuple[Path, Any]:
    from gcl.recommender import GraphCLRecommender

    folder, model = _run_paths(target)
    return folder, GraphCLRecommender.load(model)


def _read_run_config(folder: Path) -> dict[str, Any]:
    import yaml

    path = folder / rf.CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: gcl evaluate needs the run's config to "
                                "rebuild its split")
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise ValueError(f"{path} is not valid YAML (damaged?): "
                         f"{' '.join(str(e).split())}") from e
    if not isinstance(config, dict):
        raise ValueError(f"{path} must hold the run's settings (key: value)")
    return config


def coerce_ids(values: Sequence[str], index: pd.Index | np.ndarray,
               what: str) -> list[Hashable]:
    """Ids typed on the command line (text) as the model's ids: integers where its ids are
    integers, written as such an id prints (:obj:`"0001"` is not the id :obj:`1`). An id
    that is not one raises a :class:`KeyError` naming it."""
    if getattr(index.dtype, "kind", "O") not in "iu":  # a pandas Index or a numpy array
        return list(values)
    out, bad = [], []
    for v in values:
        try:
            number = int(v)
        except ValueError:
            number = None
        if number is None or str(number) != v:
            bad.append(v)
        else:
            out.append(number)
    if bad:
        raise KeyError(f"unknown {what} id(s): {bad[:5]} (this model's {what} ids are "
                       f"integers, written without leading zeros, e.g. {_plain(index[0])})")
    return out


def _plain(x: Any) -> Any:
    import numpy as np

    return x.item() if isinstance(x, np.generic) else x


def _print_lists(args: argparse.Namespace, what: str, keys: Sequence[Hashable],
                 items: np.ndarray, scores: np.ndarray, key_name: str) -> None:
    import numpy as np

    if args.json:
        rows = [{key_name: _plain(key),
                 "items": [_plain(i) for i, s in zip(row_i, row_s) if np.isfinite(s)],
                 "scores": [float(s) for s in row_s if np.isfinite(s)]}
                for key, row_i, row_s in zip(keys, items, scores)]
        print(json.dumps(rows, indent=1))
        return
    width = max(len(str(k)) for k in [key_name, *keys])
    print(f"{key_name:<{width}}  rank  {what:<12}  score")
    for key, row_i, row_s in zip(keys, items, scores):
        for rank, (i, s) in enumerate(zip(row_i, row_s), 1):
            if np.isfinite(s):
                print(f"{str(key):<{width}}  {rank:>4}  {str(i):<12}  {s:.4f}")


# ---------------------------------------------------------------------------- train
def cmd_train(args: argparse.Namespace) -> int:
    import torch

    import gcl.distributed as distributed

    if args.threads:
        torch.set_num_threads(args.threads)
    if distributed.init_from_env():  # one rank of a torchrun job
        try:
            return _train(args, distributed.is_main())
        finally:
            distributed.shutdown()
    return _train(args, True)


def _train(args: argparse.Namespace, main: bool) -> int:
    """The run of :func:`cmd_train`; on ranks other than 0 (:obj:`main` false) it only
    trains: rank 0 alone evaluates, prints and writes the run folder."""
    from gcl.datasets import list_datasets
    from gcl.recommender import GraphCLRecommender

    if not main:
        args.quiet = True
    _check_train_flags(args)
    # Built before the data is read, so that a bad setting fails at once.
    try:
        rec = GraphCLRecommender(**setting_kwargs(args))
    except HyperparameterError as e:  # named as the flag that set it
        message, flag = str(e), flag_of(e.name)
        if message.startswith(e.name):
            message = f"{flag}{message[len(e.name):]}"
        raise ValueError(message) from e
    cfg = resolved_config(args)
    # Paths made absolute, so that the run can be evaluated from any folder.
    if cfg.get("data"):
        cfg["data"] = str(Path(cfg["data"]).resolve())
    elif cfg["dataset"].strip().lower() not in list_datasets() and Path(cfg["dataset"]).is_dir():
        cfg["dataset"] = str(Path(cfg["dataset"]).resolve())
    for key in ("item_text", "word_vectors"):
        if cfg.get(key) and Path(cfg[key]).exists():
            cfg[key] = str(Path(cfg[key]).resolve())
    out = Path(args.out)
    with contextlib.ExitStack() as stack:
        if main:  # rank 0 alone writes the folder
            stack.enter_context(folder_lock(out / rf.LOCK, f"the run folder {out}"))
        resume = _check_run_folder(out, bool(args.resume), rec.params["method"],
                                   getattr(args, "overwrite", False), main)
        return _train_into(out, args, main, rec, cfg, resume)


def _train_into(out: Path, args: argparse.Namespace, main: bool, rec: Any,
                cfg: dict[str, Any], resume: bool) -> int:
    """The part of :func:`_train` that reads the data and writes the run folder :obj:`out`,
    whose lock is held."""
    t0 = time.perf_counter()
    _say(args, f"loading {args.data or args.dataset} ...")
    name, inter, given = load_interactions(cfg)
    train, valid, test = split_data(cfg, inter, given)
    if getattr(inter, "duplicates_folded", 0):
        _say(args, f"{inter.duplicates_folded} repeated clicks folded into "
                   f"{len(inter)} interactions" + (
                       ": their counts are kept as edge weights" if cfg.get("weights")
                       else " (--weights count keeps the counts as edge weights)"))
    _say(args, f"{name}: {inter} in {time.perf_counter() - t0:.1f}s; "
               + ("resuming " if resume else "training ")
               + f"{rec.params['method']} on {len(train)} interactions"
               + ("" if valid is None else f", early stopping on {len(valid)} valid"))
    budget = None if args.budget_minutes is None else 60 * args.budget_minutes
    if main:
        out.mkdir(parents=True, exist_ok=True)
    if main and not args.resume:  # written first: --resume RUN reads it back
        with atomic_write(out / rf.CONFIG, "w") as f:
            f.write(dump_config(cfg))
        rf.write_fingerprint(out, cfg)
    files = rf.LiveFiles(out, f"{name}: {rec.params['method']}")
    try:
        rec.fit(train, valid=valid, budget_seconds=budget, checkpoint_dir=out, resume=resume,
                on_epoch_end=files)
    except KeyboardInterrupt:
        if (out / rf.CHECKPOINT).is_file():
            print(f"interrupted: continue from the last finished epoch with: gcl train "
                  f"--resume {out}", file=sys.stderr)
        else:
            print("interrupted before the first epoch finished: nothing to resume",
                  file=sys.stderr)
        return 130
    if not main:
        return 0
    metrics = rec.evaluate(test, k=args.k)
    best = getattr(rec, "best_epoch_", None)
    with atomic_write(out / rf.METRICS, "w") as f:
        json.dump({"dataset": name, "method": rec.params["method"], "best_epoch": best,
                   "epochs": len(rec.history_), "test": metrics}, f, indent=2)
    rec.save(out / rf.MODEL)
    rec.export(out / rf.EMBEDDINGS, metrics={f"test_{k}": v for k, v in metrics.items()},
               dataset=name)
    notes = files.finish(rec.history_, metrics, best)
    (out / rf.CHECKPOINT).unlink(missing_ok=True)  # the run is complete
    for note in notes:
        if note:
            _say(args, f"note: {note}")
    width = max(len(k) for k in metrics)
    print(f"{name}: {rec.params['method']} after {len(rec.history_)} epochs, "
          f"test metrics ({metrics['users']} users)")
    for key, value in metrics.items():
        if key != "users":
            print(f"  {key:<{width}}  {value:.4f}")
    print(f"run folder: {out} (model: {out / rf.MODEL}, embeddings: {out / rf.EMBEDDINGS})")
    return 0


def _check_train_flags(args: argparse.Namespace) -> None:
    """The flags of gcl train that no constructor checks, checked before any work."""
    for flag, value, least in (("--threads", args.threads, 1), ("--nproc", args.nproc, 1),
                               ("--k-core", args.k_core, 0)):
        if value is not None and value < least:
            raise ValueError(f"{flag} must be an integer >= {least}, got {value}")
    if args.budget_minutes is not None and not (0 < args.budget_minutes < float("inf")):
        raise ValueError(f"--budget-minutes must be a number > 0, got {args.budget_minutes}")
    bad = [k for k in args.k if k < 1]
    if bad:
        raise ValueError(f"--k takes cut-offs >= 1, got {bad[0]}")
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise FileExistsError(f"--out {args.out} is a file: a run folder is a folder; choose "
                              "another path")
    if args.data and not Path(args.data).is_file():
        raise FileNotFoundError(f"--data: no file at {args.data}")


def _check_run_folder(out: Path, resume: bool, method: str, overwrite: bool = False,
                      main: bool = True) -> bool:
    """Before any work: a new run must not overwrite a finished run (unless
    :obj:`overwrite`, which removes its files first) or the checkpoint of an unfinished
    one, and a resumed run needs a checkpoint. Returns whether the fit resumes (a method
    without training, such as pop, is simply run again)."""
    from gcl.methods import METHODS

    checkpoint = out / rf.CHECKPOINT
    if not resume and overwrite:
        if main:
            _remove_run(out)
        return False
    if not resume:
        if checkpoint.exists():
            raise FileExistsError(
                f"{out} holds the checkpoint of an unfinished run: continue it with gcl train "
                f"--resume {out}, or delete {checkpoint} (or choose another --out) to start "
                "anew")
        finished = [name for name in (rf.MODEL, rf.METRICS) if (out / name).exists()]
        if finished and main:
            raise FileExistsError(
                f"{out} holds a finished run ({finished[0]}): choose another --out, or pass "
                "--overwrite to replace it")
        return False
    if not METHODS[method].trainable:
        return False
    if not checkpoint.is_file():
        if (out / rf.MODEL).is_file():
            raise FileNotFoundError(f"{out} holds a finished run (model.pt, no checkpoint): "
                                    "nothing to resume")
        raise FileNotFoundError(f"{out} holds no checkpoint to resume ({checkpoint} is "
                                "missing): the run stopped before its first epoch finished; "
                                "start it again without --resume")
    return True


def _remove_run(out: Path) -> None:
    """Removes the files a run of gcl train wrote in :obj:`out` (for :obj:`--overwrite`),
    and nothing else."""
    from gcl._io import remove_tree

    for name in (*rf.RUN_FILES, rf.CHECKPOINT):
        (out / name).unlink(missing_ok=True)
    for name in (rf.TENSORBOARD, rf.EMBEDDINGS):
        if (out / name).is_dir():
            remove_tree(out / name)


# ---------------------------------------------------------------------------- evaluate
def cmd_evaluate(args: argparse.Namespace) -> int:
    folder, rec = _load_model(args.run)
    cfg = _read_run_config(folder)
    rf.check_fingerprint(folder)
    _say(args, f"loading {cfg.get('data') or cfg.get('dataset')} ...")
    name, inter, given = load_interactions(cfg)
    train, valid, test = split_data(cfg, inter, given)
    part = test if args.on == "test" else valid
    if part is None:
        raise ValueError(f"the run's data has no {args.on} split")
    n = len(train.item_ids)  # a text branch appends text-only (cold) items to the map
    if not (train.user_ids.equals(rec.user_ids) and train.item_ids.equals(rec.item_ids[:n])):
        raise ValueError(f"the data of {folder / rf.CONFIG} no longer gives the id maps the "
                         "model was trained on (was the file changed?)")
    metrics = rec.evaluate(part, k=args.k, exclude_valid=args.on == "test")
    if args.json:
        print(json.dumps({"dataset": name, "split": args.on, **metrics}, indent=1))
        return 0
    print(f"{name}: {rec.params['method']}, {args.on} metrics ({metrics['users']} users)")
    width = max(len(k) for k in metrics)
    for key, value in metrics.items():
        if key != "users":
            print(f"  {key:<{width}}  {value:.4f}")
    return 0


# ---------------------------------------------------------------------------- serve
def cmd_recommend(args: argparse.Namespace) -> int:
    exclude = not args.include_seen
    if args.export:
        from gcl.index import RecallIndex

        source = RecallIndex.load(args.export)
        if args.ef_search is not None or args.nprobe is not None:
            source.set_search_params(ef_search=args.ef_search, nprobe=args.nprobe)

        def fold(lists: list) -> tuple:
            return source.recommend_for_items(lists, k=args.k, exclude_given=exclude)

        def serve(users: list) -> tuple:
            return source.search(users, k=args.k, exclude_seen=exclude)
    else:
        if args.ef_search is not None or args.nprobe is not None:
            raise ValueError("--ef-search and --nprobe apply to --export (a recall index)")
        _, source = _load_model(args.run)

        def fold(lists: list) -> tuple:
            return source.recommend_for_items(lists, k=args.k, filter_seen=exclude)

        def serve(users: list) -> tuple:
            return source.recommend(users, k=args.k, filter_seen=exclude)
    if args.items:
        keys, lists = _item_lists(args.items, source.item_ids)
        items, scores = fold(lists)
        _print_lists(args, "item", keys, items, scores, "items")
        return 0
    users = coerce_ids(args.user, source.user_ids, "user")
    items, scores = serve(users)
    _print_lists(args, "item", users, items, scores, "user")
    return 0


def _item_lists(values: Sequence[str], index: pd.Index | np.ndarray
                ) -> tuple[list[str], list[list]]:
    """:obj:`--items A,B,C ...` as (one key per user, the user's items in the model's id
    type)."""
    lists = [[v.strip() for v in value.split(",") if v.strip()] for value in values]
    empty = [value for value, items in zip(values, lists) if not items]
    if empty:
        raise ValueError(f"--items {empty[0]!r} names no item: give comma-separated item ids, "
                         "e.g. --items 50,172,181")
    return list(values), [coerce_ids(items, index, "item") for items in lists]


def cmd_similar(args: argparse.Namespace) -> int:
    if args.export:
        from gcl.index import RecallIndex

        index = RecallIndex.load(args.export)
        queries = coerce_ids(args.item, index.item_ids, "item")
        items, scores = index.similar_items(queries, k=args.k)
    else:
        _, rec = _load_model(args.run)
        queries = coerce_ids(args.item, rec.item_ids, "item")
        items, scores = rec.similar_items(queries, k=args.k)
    _print_lists(args, "similar", queries, items, scores, "item")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from gcl.export import best_valid_metrics

    if args.run and args.model:
        raise ValueError("give --run RUN or a MODEL path, not both")
    target = args.run or args.model
    out = args.out or args.out_pos
    if not target or not out:
        raise ValueError("gcl export needs --run RUN (or a MODEL path) and --out DIR")
    folder, rec = _load_model(target)
    metrics, dataset = None, None
    summary = folder / rf.METRICS
    if summary.is_file():
        saved = json.loads(summary.read_text())
        dataset = saved.get("dataset")
        metrics = {f"test_{k}": v for k, v in saved.get("test", {}).items()}
        metrics.update(best_valid_metrics(rec.history_, rec.params.get("metric", "ndcg@20")))
    options = {k: v for k, v in (("m", args.m), ("ef_construction", args.ef_construction),
                                 ("ef_search", args.ef_search), ("nlist", args.nlist),
                                 ("nprobe", args.nprobe)) if v is not None}
    if options and not args.index:
        raise ValueError("index settings need --index flat|hnsw|ivf")
    if args.index:
        from gcl.index import check_index_options

        check_index_options(args.index, len(rec.item_ids), **options)
        _say(args, f"building a {args.index} index over {len(rec.item_ids)} items ...")
    files = rec.export(out, metrics=metrics, dataset=dataset, index=args.index,
                       index_options=options, hetero=args.hetero, progress=not args.quiet)
    for role, path in files.items():
        print(f"{role}: {path}")
    return 0


# ---------------------------------------------------------------------------- datasets
def cmd_datasets(args: argparse.Namespace) -> int:
    from gcl.datasets import list_datasets, load_registry
    from gcl.datasets.download import find_local, lookup_dirs

    registry = load_registry()
    if args.action == "list":
        names = list_datasets()
        width = max(len(n) for n in names)
        for name in names:
            entry = registry[name]
            here = "local" if find_local(entry, lookup_dirs(name)) else "download"
            print(f"{name:<{width}}  {here:<8}  {entry.get('description', '')}")
        return 0
    if not args.name:
        raise ValueError("gcl datasets info needs a NAME; see gcl datasets list")
    key = args.name.strip().lower()
    if key not in registry:
        raise ValueError(f"unknown dataset {args.name!r}; known: {', '.join(sorted(registry))}")
    entry = registry[key]
    found = find_local(entry, lookup_dirs(key))
    print(key)
    for field in ("description", "homepage", "license", "format"):
        if entry.get(field):
            print(f"  {field + ':':<12} {entry[field]}")
    print(f"  {'files:':<12} {', '.join(entry['files'])}")
    print(f"  {'found in:':<12} {found if found else 'nowhere yet: downloaded on first use'}")
    if args.stats:
        from gcl.datasets import load_dataset

        ds = load_dataset(key)
        print(f"  {'log:':<12} {ds.interactions}")
        for part, inter in ds.splits.items():
            print(f"  {part + ':':<12} {len(inter)} interactions")
    return 0
