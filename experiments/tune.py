"""Hyperparameter search for the MLP: grid or random, on the validation set.

    python -m experiments.tune                          # the assignment's grid, 784-H-10 nets
    python -m experiments.tune --quick                  # the same grid on 5,000 images, 2 epochs
    python -m experiments.tune --search random --trials 30 --hidden 128-64 --optimizer sgd adam

Every trial trains one network on the training split and is scored on the
validation split only. The test set is used once, at the end, for the winner
(retrained with the same seed, which reproduces it exactly). Trials run in
parallel worker processes, one BLAS thread each (--workers, default: all
cores). Finished trials go to OUT/trials.csv as they complete; running the
same command again skips them, so an interrupted search resumes where it
stopped. Writes trials.csv, tune.png (validation accuracy against learning
rate and L2 strength) and best.txt (the winner as a train.py command line).
"""
import argparse
import csv
import itertools
import multiprocessing
import os
import sys
import time

import numpy as np

from cli import (make_parser, check_writable, fraction, non_negative_float, non_negative_int,
                 positive_float, positive_int, single_blas_thread)
from data import (DATA_HELP, NUM_CLASSES, VAL_SIZE, DataError, default_data_path, load_mnist,
                  prepare)
from fileio import save_figure, write_atomically
from model import MLP
from optim import SCHEDULE_NAMES, make_schedule
from train import Diverged, fit, make_optimizer

# What identifies a trial (and so a row of trials.csv, for resuming).
KEYS = ("hidden", "lr", "l2", "dropout", "optimizer", "epochs", "batch_size",
        "schedule", "train_size", "seed")
RESULTS = ("val_accuracy", "best_val_accuracy", "train_loss", "seconds", "status")


# ---- command line ----------------------------------------------------------
def hidden_sizes(text):
    """'500' -> (500,), '128-64' -> (128, 64)."""
    try:
        sizes = tuple(int(s) for s in text.split("-"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"hidden sizes look like 500 or 128-64, got {text}")
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"hidden sizes must be positive, got {text}")
    return sizes


def parse_args(argv=None):
    p = make_parser("Grid or random search of MLP hyperparameters on the validation set.", __spec__)
    p.add_argument("--hidden", type=hidden_sizes, nargs="+",
                   default=[(100,), (200,), (500,)],
                   help="hidden layer sizes to try, e.g. 100 200 500 or 128-64")
    p.add_argument("--lr", type=positive_float, nargs="+", default=[1e-4, 5e-4, 1e-3, 5e-3],
                   help="learning rates to try")
    p.add_argument("--reg", type=non_negative_float, nargs="+", default=[0, 1e-5, 1e-4, 1e-3],
                   help="L2 strengths to try")
    p.add_argument("--dropout", type=fraction, nargs="+", default=[0.0],
                   help="dropout probabilities to try")
    p.add_argument("--optimizer", choices=["sgd", "adam"], nargs="+", default=["adam"],
                   help="optimizers to try (sgd uses --momentum)")
    p.add_argument("--momentum", type=fraction, default=0.9, help="SGD momentum")
    p.add_argument("--schedule", choices=SCHEDULE_NAMES, default="constant",
                   help="learning-rate schedule of every trial")
    p.add_argument("--epochs", type=positive_int, default=None,
                   help="epochs per trial (default 10; 2 with --quick)")
    p.add_argument("--batch-size", type=positive_int, default=64, help="examples per update")
    p.add_argument("--search", choices=["grid", "random"], default="grid",
                   help="every combination, or --trials random ones (learning rate and "
                   "L2 log-uniform between the smallest and largest given)")
    p.add_argument("--trials", type=positive_int, default=20, help="random search: trials")
    p.add_argument("--train-size", type=non_negative_int, default=None,
                   help="train each trial on the first TRAIN_SIZE training images "
                   "(default 0: all; 5000 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="a fast look: 5,000 training images, 2 epochs (unless given)")
    p.add_argument("--workers", type=positive_int, default=os.cpu_count() or 1,
                   help="trials run at once, each in its own process")
    p.add_argument("--seed", type=int, default=0, help="seed of every trial (and of the sampling)")
    p.add_argument("--val-size", type=non_negative_int, default=VAL_SIZE,
                   help="the last VAL_SIZE training images are the validation set")
    p.add_argument("--no-test", action="store_true",
                   help="do not retrain the winner and evaluate it on the test set")
    p.add_argument("--data", default=default_data_path(), help=DATA_HELP)
    p.add_argument("--out", default="tune_out", help="folder for trials.csv, tune.png, best.txt")
    args = p.parse_args(argv)
    if args.epochs is None:
        args.epochs = 2 if args.quick else 10
    if args.train_size is None:
        args.train_size = 5000 if args.quick else 0
    if args.val_size == 0:
        p.error("--val-size must be > 0: trials are selected on the validation set")
    return args


# ---- the trials ---------------------------------------------------------------
def make_trials(args):
    """The list of trial configurations (dicts with the KEYS)."""
    fixed = dict(epochs=args.epochs, batch_size=args.batch_size, schedule=args.schedule,
                 train_size=args.train_size, seed=args.seed)
    if args.search == "grid":
        combos = itertools.product(args.hidden, args.lr, args.reg, args.dropout, args.optimizer)
    else:
        rng = np.random.default_rng([args.seed, 3])

        def log_uniform(values):
            low, high = min(values), max(values)
            return float(np.exp(rng.uniform(np.log(low), np.log(high))))

        nonzero_reg = [r for r in args.reg if r > 0]
        combos = []
        for _ in range(args.trials):
            # L2 of exactly 0 stays possible, as often as it has a share in the list.
            reg = (0.0 if not nonzero_reg or rng.random() < args.reg.count(0) / len(args.reg)
                   else log_uniform(nonzero_reg))
            combos.append((args.hidden[rng.integers(len(args.hidden))], log_uniform(args.lr),
                           reg, args.dropout[rng.integers(len(args.dropout))],
                           args.optimizer[rng.integers(len(args.optimizer))]))
    return [dict(hidden="-".join(map(str, h)), lr=float(lr), l2=float(reg),
                 dropout=float(dropout), optimizer=opt, **fixed)
            for h, lr, reg, dropout, opt in combos]


def trial_key(trial):
    """A canonical string for a configuration: equal configurations, equal keys,
    whether the values come from the command line or back from the CSV."""
    parts = []
    for k in KEYS:
        v = trial[k]
        if k in ("lr", "l2", "dropout"):
            v = repr(float(v))
        elif k in ("epochs", "batch_size", "train_size", "seed"):
            v = str(int(v))
        parts.append(f"{k}={v}")
    return " ".join(parts)


_DATA = None  # (train, val), set in each worker by _init_worker
_MOMENTUM = 0.9


def _init_worker(data_path, val_size, momentum):
    global _DATA, _MOMENTUM
    train, val, _ = prepare(load_mnist(data_path, NUM_CLASSES), val_size)
    _DATA, _MOMENTUM = (train, val), momentum


def build_and_train(trial, train, val, momentum, log=lambda line: None):
    """Train one configuration; returns (model, history). Raises Diverged."""
    X, y = train
    if trial["train_size"]:
        X, y = X[:trial["train_size"]], y[:trial["train_size"]]
    sizes = (X.shape[1], *hidden_sizes(trial["hidden"]), NUM_CLASSES)
    model = MLP(sizes, l2=trial["l2"], dropout=trial["dropout"], seed=trial["seed"])
    optimizer = make_optimizer(argparse.Namespace(optimizer=trial["optimizer"], lr=trial["lr"],
                                                  momentum=momentum))
    history = fit(model, optimizer, (X, y), val, trial["epochs"], trial["batch_size"],
                  seed=trial["seed"], schedule=make_schedule(trial["schedule"], trial["epochs"]),
                  log=log)
    return model, history


def run_trial(trial):
    """Worker: one trial -> its row of results (never raises for a diverged run)."""
    train, val = _DATA
    start = time.perf_counter()
    try:
        _, history = build_and_train(trial, train, val, _MOMENTUM)
        row = dict(val_accuracy=history["val_accuracy"][-1],
                   best_val_accuracy=max(history["val_accuracy"]),
                   train_loss=history["loss"][-1], status="ok")
    except Diverged:
        row = dict(val_accuracy=0.0, best_val_accuracy=0.0, train_loss=float("nan"),
                   status="diverged")
    row["seconds"] = round(time.perf_counter() - start, 2)
    return {**trial, **row}


# ---- the CSV: written as trials finish, read back to resume --------------------
def read_trials(path):
    """Finished trials in ``path`` (dicts), skipping a half-written last line."""
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    done = []
    for row in rows:
        try:
            row["val_accuracy"] = float(row["val_accuracy"])
            row["best_val_accuracy"] = float(row["best_val_accuracy"])
            row["seconds"] = float(row["seconds"])
            trial_key(row)
        except (KeyError, TypeError, ValueError):
            continue
        if row.get("status") in ("ok", "diverged"):
            done.append(row)
    return done


def append_trial(path, row):
    new = not os.path.exists(path) or os.path.getsize(path) == 0
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=KEYS + RESULTS)
        if new:
            writer.writeheader()
        writer.writerow({k: row[k] for k in KEYS + RESULTS})
        f.flush()
        os.fsync(f.fileno())


def format_seconds(s):
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def describe(trial):
    return (f"hidden {trial['hidden']:>7}  lr {float(trial['lr']):<8.2g} "
            f"l2 {float(trial['l2']):<7.2g} dropout {float(trial['dropout']):<4g} "
            f"{trial['optimizer']}")


# ---- outputs ------------------------------------------------------------------------
def plot_trials(rows, path):
    """tune.png: see trials_figure."""
    save_figure(trials_figure(rows), path, dpi=100)


def trials_figure(rows):
    """Validation accuracy against learning rate, one line per L2 strength and
    one panel per hidden size (the best over the other options). Every trial
    that trained is inside the picture; diverged ones are marked x at the bottom."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    hiddens = sorted({r["hidden"] for r in rows}, key=lambda h: hidden_sizes(h))
    regs = sorted({float(r["l2"]) for r in rows})
    fig, axes = plt.subplots(1, len(hiddens), figsize=(4.2 * len(hiddens), 3.8),
                             sharey=True, squeeze=False)
    random_search = len(regs) > 8
    for ax, hidden in zip(axes[0], hiddens):
        mine = [r for r in rows if r["hidden"] == hidden]
        if random_search:  # continuous values: a scatter coloured by L2
            trained = [r for r in mine if r["val_accuracy"] > 0]
            points = ax.scatter([float(r["lr"]) for r in trained],
                                [r["val_accuracy"] for r in trained],
                                c=[np.log10(float(r["l2"]) + 1e-8) for r in trained],
                                cmap="viridis")
            fig.colorbar(points, ax=ax, label="log10(L2 + 1e-8)")
        else:
            for reg in regs:
                best = {}
                for r in mine:
                    if float(r["l2"]) == reg:
                        lr = float(r["lr"])
                        best[lr] = max(best.get(lr, 0.0), r["val_accuracy"])
                best = {lr: acc for lr, acc in best.items() if acc > 0}  # 0: diverged
                if best:
                    lrs = sorted(best)
                    ax.plot(lrs, [best[lr] for lr in lrs], "o-", label=f"L2 {reg:g}")
        diverged = [float(r["lr"]) for r in mine if r["val_accuracy"] == 0]
        if diverged:  # at the bottom edge, whatever the y range
            ax.plot(diverged, [0.02] * len(diverged), "x", color="red",
                    transform=ax.get_xaxis_transform(), label="diverged")
        ax.set(xscale="log", xlabel="learning rate", title=f"hidden {hidden}")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("validation accuracy")
    accs = [r["val_accuracy"] for r in rows if r["val_accuracy"] > 0]
    if accs:  # every trained point, but not the diverged runs' 0
        margin = max(0.005, 0.05 * (max(accs) - min(accs)))
        axes[0][0].set_ylim(min(accs) - margin, max(accs) + margin)
    if not random_search:
        axes[0][-1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def command_line(trial, args):
    opt = f"--optimizer {trial['optimizer']}"
    if trial["optimizer"] == "sgd":
        opt += f" --momentum {args.momentum:g}"
    return (f"python train.py --hidden {trial['hidden'].replace('-', ' ')} "
            f"--lr {float(trial['lr']):g} --l2 {float(trial['l2']):g} "
            f"--dropout {float(trial['dropout']):g} {opt} --epochs {int(trial['epochs'])} "
            f"--batch-size {int(trial['batch_size'])} --schedule {trial['schedule']} "
            f"--seed {int(trial['seed'])}")


def main(argv=None):
    # One BLAS thread per process, here and in every worker: parallelism comes
    # from running trials side by side, which scales far better for these small
    # matrices than threads inside one product.
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    single_blas_thread()
    args = parse_args(argv)
    try:
        # Before the workers start: a folder that cannot be written (read-only,
        # under a file) fails now, with one line, not trial by trial.
        check_writable(args.out)
        # Load once here: a bad path fails now, with a one-line message.
        train, val, test = prepare(load_mnist(args.data, NUM_CLASSES), args.val_size)
    except DataError as e:
        sys.exit(f"error: {e}")
    csv_path = os.path.join(args.out, "trials.csv")
    trials = make_trials(args)
    finished = {trial_key(r): r for r in read_trials(csv_path)}
    todo = [t for t in trials if trial_key(t) not in finished]
    print(f"{len(trials)} trials ({args.search} search, {args.epochs} epochs each, "
          f"{args.train_size or len(train[0])} training images); "
          f"{len(trials) - len(todo)} already in {csv_path}, {len(todo)} to run "
          f"on {args.workers} worker(s)")

    start = time.perf_counter()
    if todo:
        context = multiprocessing.get_context("spawn")
        pool = context.Pool(min(args.workers, len(todo)), _init_worker,
                            (args.data, args.val_size, args.momentum))
        try:
            for done, row in enumerate(pool.imap_unordered(run_trial, todo), start=1):
                append_trial(csv_path, row)
                finished[trial_key(row)] = row
                elapsed = time.perf_counter() - start
                eta = elapsed / done * (len(todo) - done)
                print(f"[{done:{len(str(len(todo)))}d}/{len(todo)}] {describe(row)}  "
                      f"val {row['val_accuracy']:.4f}  {row['seconds']:.1f}s  "
                      f"| elapsed {format_seconds(elapsed)}, left ~{format_seconds(eta)}",
                      flush=True)
            pool.close()
        except KeyboardInterrupt:
            pool.terminate()
            sys.exit(f"\ninterrupted: {len(finished)} finished trials are in {csv_path}; "
                     "run the same command again to resume.")
        finally:
            pool.join()

    rows = [finished[trial_key(t)] for t in trials]
    plot_trials(rows, os.path.join(args.out, "tune.png"))
    best = max(rows, key=lambda r: r["val_accuracy"])  # first of equals: grid order
    ranked = sorted(rows, key=lambda r: -r["val_accuracy"])
    print("\nbest on validation:")
    for r in ranked[:5]:
        print(f"  {describe(r)}  val {r['val_accuracy']:.4f}")
    lines = [f"# best of {len(rows)} trials on validation: val_accuracy "
             f"{best['val_accuracy']:.4f}", command_line(best, args)]
    if args.train_size:
        lines.insert(1, f"# (trials trained on the first {args.train_size} training "
                        "images only; the command trains on all of them)")
    if not args.no_test:
        # The one use of the test set: the winner, retrained identically.
        best_trial = {k: best[k] for k in KEYS}
        for k in ("lr", "l2", "dropout"):
            best_trial[k] = float(best_trial[k])
        for k in ("epochs", "batch_size", "train_size", "seed"):
            best_trial[k] = int(best_trial[k])
        model, history = build_and_train(best_trial, train, val, args.momentum)
        test_accuracy = model.accuracy(*test)
        lines.insert(1, f"# retrained: val_accuracy {history['val_accuracy'][-1]:.4f}, "
                        f"test_accuracy {test_accuracy:.4f}")
    text = "\n".join(lines) + "\n"
    write_atomically(os.path.join(args.out, "best.txt"), lambda f: f.write(text.encode()))
    print(text, end="")
    print(f"wrote trials.csv, tune.png, best.txt to {args.out}")


if __name__ == "__main__":
    main()
