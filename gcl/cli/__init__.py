"""The ``gcl`` command: train, evaluate, serve and export models without writing code.

    gcl train --dataset ml-100k --method lightgcn --out runs/ml-100k
    gcl train --data clicks.csv --user-col user --item-col item --out runs/mine
    gcl evaluate --run runs/mine
    gcl recommend --run runs/mine --user 196 -k 10
    gcl similar --run runs/mine --item 50
    gcl export --run runs/mine --out export/ --index flat
    gcl recommend --export export/ --user 196 -k 10
    gcl recommend --export export/ --items 50,172,181 -k 10
    gcl datasets list

``python -m gcl`` is the same command.
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence

from gcl.cli import commands
from gcl.cli import run_folder as rf
from gcl.cli.config import add_setting_flags, load_config
from gcl.settings import (
    ContrastSettings,
    ModelSettings,
    RuntimeSettings,
    TextSettings,
    TrainSettings,
)

#: gcl.index.INDEX_TYPES, spelt out so that `gcl --help` loads no pandas (a test keeps them
#: equal).
INDEX_TYPES = ("flat", "hnsw", "ivf")
SPLITS = ("auto", "given", "random", "leave_one_out", "temporal")


_EPILOG = """\
examples:
  gcl train --dataset ml-100k --method simgcl --epochs 50 --out runs/ml
  gcl train --data clicks.csv --item-text items.csv --text-col title --out runs/text
  gcl train --data clicks.csv --user-col user --item-col item --method lightgcn --out runs/mine
  gcl export --run runs/mine --out export/ --index flat
  gcl recommend --export export/ --user 196 -k 10

'gcl COMMAND --help' describes each command."""


class _Parser(argparse.ArgumentParser):
    """Usage errors on one line, naming the help to read."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows a flag's default where it has one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False, argparse.SUPPRESS):
            return action.help
        return super()._get_help_string(action)


def _train_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    t = sub.add_parser(
        "train", help="train a model on a dataset or a click log; write a run folder",
        description="Trains a model, prints its test metrics and writes a run folder: "
        "config.yaml (the resolved settings; gcl train --config repeats the run), "
        "metrics.jsonl (one line per evaluation, written as training goes, then the final "
        "test metrics), metrics.json, model.pt (the best weights), training_curve.png (with "
        "matplotlib), tensorboard/ (with the tensorboard extra) and embeddings/ (an export). "
        "While it trains, checkpoint.pt holds the state at the end of the last epoch; "
        "gcl train --resume RUN continues an interrupted run from it, and it is removed "
        "once the run is complete.",
        formatter_class=_Formatter)
    t.add_argument("--config", metavar="YAML",
                   help="a run file whose keys are this command's flag names (lr: 0.001, "
                   "batch_size: 2048, ...); flags given on the command line win")
    data = t.add_argument_group("data (one of --dataset or --data)")
    src = data.add_mutually_exclusive_group()
    src.add_argument("--dataset", metavar="NAME",
                     help="a dataset name (see gcl datasets list) or a folder in "
                     "LightGCN's format")
    src.add_argument("--data", "--interactions", dest="data", metavar="FILE",
                     help="a CSV or Parquet click log, one row per click")
    data.add_argument("--sep", metavar="CHAR",
                      help="field separator of a --data CSV (default: a comma), e.g. "
                      "$'\\t' for tab-separated files")
    data.add_argument("--user-col", default="user", metavar="COL",
                      help="column of user ids in --data")
    data.add_argument("--item-col", default="item", metavar="COL",
                      help="column of item ids in --data")
    data.add_argument("--rating-col", metavar="COL", help="column of ratings in --data")
    data.add_argument("--timestamp-col", metavar="COL",
                      help="column of times in --data: numbers, or date-times as ISO 8601 text "
                      "(2024-05-01T13:45:00Z)")
    data.add_argument("--time-format", metavar="FMT",
                      help="strptime format of --timestamp-col text that is not ISO 8601, "
                      "e.g. '%%d/%%m/%%Y %%H:%%M'")
    data.add_argument("--weights", choices=("count",),
                      help="count: keep how often each user clicked each item (rows of --data "
                      "folded into one) as edge weights of the graph; by default each pair "
                      "counts once")
    data.add_argument("--min-rating", type=float, metavar="X", help="keep rows rated at least this")
    data.add_argument("--k-core", type=int, metavar="K", help="keep the k-core of users and items")
    data.add_argument("--split", choices=SPLITS, default="auto",
                      help="auto: the published split when there is one, else random")
    data.add_argument("--ratios", type=float, nargs="+", default=[0.8, 0.1, 0.1], metavar="R",
                      help="train, (valid,) test shares for random and temporal splits")
    text = t.add_argument_group(
        "item text", "a text branch: the texts' word vectors feed the item embeddings, and "
        "items with a text but no click (cold items) are embedded from their text, so that "
        "recommend, similar and export serve them")
    text.add_argument("--item-text", metavar="FILE|dataset",
                      help="a CSV or Parquet file with one row per item (--text-id-col, "
                      "--text-col), or the word 'dataset' for the named dataset's own item "
                      "text (ml-100k: title, year and genres)")
    text.add_argument("--text-id-col", default="item", metavar="COL",
                      help="column of item ids in --item-text")
    text.add_argument("--text-col", nargs="+", default=["text"], metavar="COL",
                      help="column(s) of text in --item-text, joined with ' | '")
    model = t.add_argument_group("model and training")
    methods = t.add_argument_group(
        "method hyperparameters", "each applies only to the methods named; unset, the "
        "method's own default (shown in brackets) is used")
    contrast = t.add_argument_group(
        "contrastive parts", "compose with every method that has a contrastive loss")
    run = t.add_argument_group("run")
    add_setting_flags({ModelSettings: model, TrainSettings: model, RuntimeSettings: run,
                       ContrastSettings: contrast, TextSettings: text}, methods)
    model.add_argument("--budget-minutes", type=float, metavar="M",
                       help="stop after this much training")
    run.add_argument("--out", metavar="RUN", help="the run folder (required)")
    run.add_argument("--k", type=int, nargs="+", metavar="K", default=[10, 20],
                     help="test cut-offs")
    run.add_argument("--nproc", type=int, metavar="N",
                     help="train data-parallel on N local processes, launched through "
                     "torch.distributed.run (torchrun); --batch-size is per process. "
                     "Several machines: see docs/scaling.md")
    run.add_argument("--quiet", action="store_true",
                     help="no progress bars, evaluation log or notes")
    run.add_argument("--log-level", choices=("debug", "info", "warning", "error"),
                     default="info", help="the least severe log messages shown on stderr")
    run.add_argument("--overwrite", action="store_true",
                     help="replace the finished run in --out (its model, metrics, log and "
                     "export are removed first); without it, such a folder is refused")
    run.add_argument("--resume", metavar="RUN",
                     help="continue the interrupted run in the folder RUN from its last "
                     "finished epoch, with the settings of RUN/config.yaml (only --quiet and "
                     "--threads may be given besides)")
    t.set_defaults(func=commands.cmd_train)
    return t


def _add_run(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--run", required=required, metavar="RUN",
                   help="a run folder written by gcl train (or its model.pt)")


def build_parser() -> argparse.ArgumentParser:
    """The parser of the ``gcl`` command and its subcommands."""
    return _build()[0]


def _build() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    from gcl._version import __version__

    p = _Parser(
        prog="gcl", epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Graph contrastive learning for recommendation: train on a click log, "
        "evaluate, recommend, and export embeddings with a Faiss recall index.")
    p.add_argument("--version", action="version", version=f"gcl {__version__}")
    p.add_argument("--debug", action="store_true",
                   help="on an error, print the traceback too (may go anywhere on the line)")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train = _train_parser(sub)

    e = sub.add_parser("evaluate", help="re-evaluate a run's model on its test split",
                       description="Rebuilds the run's data and split from its config.yaml and "
                       "prints full-ranking metrics of its model.")
    _add_run(e)
    e.add_argument("--k", type=int, nargs="+", default=[10, 20], help="cut-offs")
    e.add_argument("--on", choices=("test", "valid"), default="test", help="which split")
    e.add_argument("--json", action="store_true", help="print JSON")
    e.add_argument("--quiet", action="store_true", help="no progress notes")
    e.set_defaults(func=commands.cmd_evaluate)

    r = sub.add_parser("recommend", help="top-k items for users, from a run or an export",
                       description="Top-k items for each user, items the user has in train "
                       "left out. From a run's model (exact), or from an export's recall "
                       "index (--export).")
    where = r.add_mutually_exclusive_group(required=True)
    where.add_argument("--run", metavar="RUN", help="a run folder (or its model.pt)")
    where.add_argument("--export", metavar="DIR", help="an export folder with an index")
    who = r.add_mutually_exclusive_group(required=True)
    who.add_argument("--user", nargs="+", metavar="ID", help="user ids")
    who.add_argument("--items", nargs="+", metavar="A,B,C",
                     help="new users, never trained on, each given by the items they have, "
                     "comma-separated (one list per user): they are folded in from those items")
    r.add_argument("-k", "--k", type=int, default=10, help="list length")
    r.add_argument("--include-seen", action="store_true",
                   help="keep the train items (with --items: the items given)")
    r.add_argument("--ef-search", type=int, metavar="N", help="HNSW search depth (with --export)")
    r.add_argument("--nprobe", type=int, metavar="N", help="IVF cells searched (with --export)")
    r.add_argument("--json", action="store_true", help="print JSON")
    r.set_defaults(func=commands.cmd_recommend)

    s = sub.add_parser("similar", help="most similar items (cosine of embeddings)",
                       description="The k items most similar to each given item, by cosine "
                       "similarity of the item embeddings (from a run), or by the inner "
                       "product the recall index searches (--export).")
    source = s.add_mutually_exclusive_group(required=True)
    source.add_argument("--run", metavar="RUN", help="a run folder (or its model.pt)")
    source.add_argument("--export", metavar="DIR", help="an export folder with an index")
    s.add_argument("--item", nargs="+", required=True, metavar="ID", help="item ids")
    s.add_argument("-k", "--k", type=int, default=10, help="list length")
    s.add_argument("--json", action="store_true", help="print JSON")
    s.set_defaults(func=commands.cmd_similar)

    x = sub.add_parser(
        "export", help="write embeddings, id maps and a Faiss index for serving",
        description="Writes user_embeddings.npy, item_embeddings.npy, users/items.npy, "
        "seen.npz, with --index items.faiss, with --hetero graph.pt, and meta.json last. "
        "gcl recommend --export DIR, or gcl.RecallIndex.load(DIR), serve it.")
    _add_run(x, required=False)
    x.add_argument("model", nargs="?", help=argparse.SUPPRESS)  # old form: MODEL OUT
    x.add_argument("out_pos", nargs="?", help=argparse.SUPPRESS)
    x.add_argument("--out", metavar="DIR", help="target folder")
    x.add_argument("--index", choices=INDEX_TYPES,
                   help="build a Faiss inner-product index (needs pip install 'gcl[ann]')")
    x.add_argument("--hetero", action="store_true",
                   help="also write the train graph as PyG HeteroData (graph.pt)")
    x.add_argument("--m", type=int, metavar="N", help="HNSW links per node [32]")
    x.add_argument("--ef-construction", type=int, metavar="N", help="HNSW build depth [200]")
    x.add_argument("--ef-search", type=int, metavar="N", help="HNSW search depth [128]")
    x.add_argument("--nlist", type=int, metavar="N", help="IVF cells [4 sqrt(items)]")
    x.add_argument("--nprobe", type=int, metavar="N",
                   help="IVF cells searched [max(8, nlist / 32)]")
    x.add_argument("--quiet", action="store_true", help="no progress bar or notes")
    x.set_defaults(func=commands.cmd_export)

    d = sub.add_parser("datasets", help="list the named datasets, or describe one",
                       description="gcl datasets list | gcl datasets info NAME [--stats]")
    d.add_argument("action", choices=("list", "info"))
    d.add_argument("name", nargs="?", help="a dataset name (for info)")
    d.add_argument("--stats", action="store_true", help="load it and print its size")
    d.set_defaults(func=commands.cmd_datasets)
    return p, train


def _parse(argv: list[str]) -> argparse.Namespace:
    parser, train = _build()
    args = parser.parse_args(argv)
    if args.command != "train":
        return args
    if args.resume:
        args = _resume_args(parser, train, args, argv)
    elif args.config:
        try:
            config = load_config(args.config, train)
        except (ValueError, OSError) as e:
            train.error(str(e))
        if args.data or args.dataset:  # a source on the command line replaces the file's
            config.pop("data", None)
            config.pop("dataset", None)
        train.set_defaults(**config)
        args = parser.parse_args(argv)
    if not (args.data or args.dataset):
        train.error("one of --dataset NAME or --data FILE is required (or set in --config)")
    if args.data and args.dataset:
        train.error("give either --dataset or --data, not both")
    if not args.out:
        train.error("--out RUN is required (or out: in --config)")
    return args


#: Flags that may go with --resume: they change how the run is shown or run, not what it is.
_RESUME_FLAGS = {"resume", "quiet", "threads", "nproc", "command", "func", "help", "log_level"}


def _resume_args(parser: argparse.ArgumentParser, train: argparse.ArgumentParser,
                 args: argparse.Namespace, argv: list[str]) -> argparse.Namespace:
    """The arguments of :obj:`gcl train --resume RUN`: those of RUN/config.yaml, with the
    run folder RUN. Any other setting on the command line is an error, since a resumed run
    must be the run that was interrupted."""
    given = [a.option_strings[0] for a in train._actions
             if a.dest not in _RESUME_FLAGS and getattr(args, a.dest, None) != a.default]
    if given:
        train.error(f"--resume takes every setting from RUN/config.yaml; drop {', '.join(given)}"
                    " (only --quiet and --threads may be given with it)")
    config_path = os.path.join(args.resume, rf.CONFIG)
    if not os.path.isfile(config_path):
        train.error(f"{args.resume} holds no {rf.CONFIG}: --resume needs a run folder written "
                    "by gcl train")
    try:
        config = load_config(config_path, train)
    except (ValueError, OSError) as e:
        train.error(str(e))
    config["out"] = args.resume
    train.set_defaults(**config)
    return parser.parse_args(argv)


def _without_nproc(argv: list[str]) -> list[str]:
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == "--nproc":
            skip = True
        elif not a.startswith("--nproc="):
            out.append(a)
    return out


def _one_line(message: object) -> str:
    """An error message on one line: its lines joined."""
    return " ".join(str(message).split())


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the ``gcl`` command; returns its exit code: 2 for a usage or input error, 1 for
    a failure while running (a diverged training, a busy folder, a full disk), each with
    one line on stderr; :obj:`--debug` (anywhere on the line) adds the traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    argv = [a for a in argv if a != "--debug"]
    args = _parse(argv)
    if getattr(args, "log_level", None):  # gcl train: epoch lines on stderr
        from gcl.train import logs

        logs.configure("WARNING" if getattr(args, "quiet", False) else args.log_level)
    try:
        if getattr(args, "nproc", None) and args.nproc > 1:
            import gcl.distributed as distributed

            if not distributed.launched():
                return distributed.launch(_without_nproc(argv), args.nproc)
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # e.g. gcl recommend ... | head: the reader left early
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # so that the exit flush does not fail again
        return 1
    except Exception as e:
        if debug:
            traceback.print_exc()
        code, message = _describe(e)
        if code == 0:  # not an error of gcl's own making: say where to see more
            code, message = 1, message + ("" if debug else " (run again with --debug for "
                                          "the traceback)")
        print(f"error: {message}", file=sys.stderr)
        return code


def _describe(e: Exception) -> tuple[int, str]:
    """(exit code, one-line message) of an error that ends the command; code 0 for an
    error that gcl did not foresee."""
    from gcl._io import FolderBusyError

    if isinstance(e, KeyError):  # str(KeyError) quotes its message
        return 2, _one_line(e.args[0] if e.args else e)
    if isinstance(e, (ValueError, FileNotFoundError, FileExistsError, TypeError,
                      ImportError, IsADirectoryError, NotADirectoryError)):
        return 2, _one_line(e)
    if isinstance(e, (FloatingPointError, FolderBusyError)):  # not a usage error
        return 1, _one_line(e)
    if isinstance(e, OSError):  # a full disk, a denied permission: the path is named
        return 1, _one_line(f"{e.strerror or e}" + (f": {e.filename}" if e.filename else ""))
    return 0, _one_line(f"{type(e).__name__}: {e}")  # the type says where it came from


if __name__ == "__main__":
    sys.exit(main())
