"""How fast does the from-scratch trainer run, next to the frameworks and the machine's limit?

    python -m experiments.speed --data path/to/mnist.npz           # full run, a few minutes
    python -m experiments.speed --data path/to/mnist.npz --quick   # a short smoke run

Everything is measured in one run, on the same data and settings as the default
``python train.py`` (784-128-64-10, dropout 0.1, SGD momentum 0.9, lr 0.05 with
cosine decay, batch 64, 50,000 training images):

- seconds per epoch, the median over epochs of the training pass alone, for our
  trainer, the Keras baseline (experiments/keras_baseline.py) and PyTorch eager if it is installed;
- the floor: the time of the matrix products of one epoch (forward and backward,
  the same shapes, timed on their own), i.e. the epoch's FLOPs divided by this
  machine's float32 matmul rate on those shapes, and our time as a multiple of it;
- where the rest of an epoch goes (the update, the dropout masks, everything else);
- wall time (median of 3 runs), the part of it outside the training passes, and
  peak memory of a whole default ``python train.py`` given local data;
- epochs and training seconds until 97 % and 98 % test accuracy;
- seconds per epoch for batch sizes 16, 64, 256, 1024 and for wider hidden layers.

The timings run in child processes (``--worker``), one per BLAS thread count,
so that threads, imports and memory do not leak from one into the next. Inside
a worker the comparisons are interleaved: after each of our epochs come one
epoch of the matmul floor and one of PyTorch, so load from other programs on
the machine hits all of them alike and their ratios hold. The tables are
printed and written as markdown (--out) with the command that made them.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from fileio import write_atomically

# The project's folder: the workers and train.py run there, as a user runs them.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THREADS = (1, 2)
BATCH_SIZES = (16, 64, 256, 1024)
WIDTHS = ((64, 32), (128, 64), (256, 128), (512, 256))
# Whole `python train.py` runs: one is at the mercy of a moment's load; report the median.
DEFAULT_RUNS = 3


# ---- the worker: runs in its own process and prints one JSON line ----------
def load_data(path):
    from data import VAL_SIZE, load_mnist, prepare
    return prepare(load_mnist(path), VAL_SIZE)


def timed(run):
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def step_products(sizes, batch, rng):
    """The (A, B) operand pairs of every matrix product of one training step,
    in the layouts the trainer uses: x @ W forward; x.T @ dz for every layer
    and dz @ W.T for all but the first backward (nobody needs the pixels' gradient)."""
    import numpy as np
    pairs = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        x = rng.random((batch, d_in), dtype=np.float32)
        W = rng.random((d_in, d_out), dtype=np.float32)
        dz = rng.random((batch, d_out), dtype=np.float32)
        pairs += [(x, W), (x.T, dz)] + ([(dz, W.T)] if i > 0 else [])
    return pairs


def matmul_floor(sizes, n, batch_size):
    """(run, flops): run() does the matrix products of one epoch and nothing else."""
    import numpy as np
    rng = np.random.default_rng(0)
    full_steps, last = divmod(n, batch_size)
    steps = [(step_products(sizes, batch_size, rng), full_steps)]
    if last:
        steps.append((step_products(sizes, last, rng), 1))
    flops = sum(count * sum(2 * a.shape[0] * a.shape[1] * b.shape[1] for a, b in pairs)
                for pairs, count in steps)

    def run():
        for pairs, count in steps:
            for _ in range(count):
                for a, b in pairs:
                    a @ b
    return run, flops


def momentum_in_the_product(x, dz, v, lr, momentum):
    """v <- momentum v - lr x^T dz in one BLAS GEMM (C <- alpha A B + beta C, with
    C = v): the momentum step folded into the product that makes dW, the fusion
    a backward pass that returns its gradients gives up. A benchmark row, not
    the trainer's update: v.T is v's own memory in the column-major order BLAS
    works in, so GEMM updates v in place. x: (N, D), dz: (N, M), v: (D, M), float32."""
    from scipy.linalg.blas import sgemm
    sgemm(-lr, dz.T, x.T, beta=momentum, c=v.T, trans_b=1, overwrite_c=1)


class StepClock:
    """Times the parts of real training steps from inside the loop: the callables a
    step calls are wrapped, so each part is measured on the arrays and the state
    training leaves (velocities as they have decayed, weights as trained), not on
    fresh copies. The wrappers cost two clock reads per call, well under 1 % of a step.

    Parts: "gather" (X[idx]), "augmentation", "forward" (without its dropout),
    "dropout", "loss", "backward", "update"; whatever is left of the epoch's timed
    pass is the Python of the loop itself (the schedule, the checks, the counting).
    """
    PARTS = ("gather", "augmentation", "forward", "dropout", "loss", "backward", "update")

    def __init__(self):
        self.seconds = dict.fromkeys(self.PARTS, 0.0)

    def wrap(self, part, function, counts=lambda *args, **kwargs: True):
        """``function``, timed into ``part`` on the calls for which ``counts`` says so."""
        clock = time.perf_counter

        def timed(*args, **kwargs):
            if not counts(*args, **kwargs):
                return function(*args, **kwargs)
            start = clock()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds[part] += clock() - start
        return timed

    def take(self):
        """The seconds per part since the last take, and a fresh count."""
        seconds, self.seconds = self.seconds, dict.fromkeys(self.PARTS, 0.0)
        seconds["forward"] -= seconds["dropout"]  # dropout runs inside forward
        return seconds

    def instrument(self, model, optimizer, X):
        """Wrap the model's forward, loss and backward, its dropout, the optimizer's
        step, and the training images' indexing (returns the X to train on)."""
        import numpy as np
        import model as model_module
        # Only the training step's calls: validation and test passes run outside the
        # timed pass, through the same forward (with train=False) and data_loss.
        in_step = []

        def training(X, train=False):
            if train:
                in_step[:] = [True]
            return train
        model.forward = self.wrap("forward", model.forward, training)
        model.data_loss = self.wrap("loss", model.data_loss, lambda *args: bool(in_step))
        model.backward = self.wrap("backward", model.backward, lambda *args: in_step.clear() or True)
        optimizer.step = self.wrap("update", optimizer.step)
        model_module.dropout_forward = self.wrap("dropout", model_module.dropout_forward)
        clock = self

        class GatheredOnAClock(np.ndarray):
            def __getitem__(self, index):
                start = time.perf_counter()
                batch = np.ndarray.__getitem__(self.view(np.ndarray), index)
                clock.seconds["gather"] += time.perf_counter() - start
                return batch
        return X.view(GatheredOnAClock)


class TorchTrainer:
    """The same network and loop in PyTorch eager mode, one epoch per call."""

    def __init__(self, train, sizes, epochs, batch_size, threads):
        import torch
        self.torch = torch
        torch.set_num_threads(threads)
        torch.manual_seed(0)
        self.X, self.y = torch.from_numpy(train[0]), torch.from_numpy(train[1])
        layers = []
        for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            linear = torch.nn.Linear(d_in, d_out)
            torch.nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            torch.nn.init.zeros_(linear.bias)
            layers.append(linear)
            if i < len(sizes) - 2:
                layers += [torch.nn.ReLU(), torch.nn.Dropout(0.1)]
        self.model = torch.nn.Sequential(*layers)
        self.optimizer = torch.optim.SGD(self.model.parameters(), lr=0.05, momentum=0.9)
        self.loss_fn = torch.nn.CrossEntropyLoss()
        self.batch_size = batch_size
        self.version = torch.__version__
        self.total_steps = epochs * -(-len(self.X) // batch_size)
        self.step = 0

    def epoch(self):
        """One training epoch; returns the seconds of its training pass."""
        import math
        torch, n, batch = self.torch, len(self.X), self.batch_size
        order = torch.randperm(n)
        self.model.train()
        losses, correct = [], 0
        start = time.perf_counter()
        for i in range(0, n, batch):
            lr = 0.05 * 0.5 * (1 + math.cos(math.pi * self.step / self.total_steps))
            for group in self.optimizer.param_groups:
                group["lr"] = lr
            self.step += 1
            idx = order[i:i + batch]
            xb, yb = self.X[idx], self.y[idx]
            out = self.model(xb)
            loss = self.loss_fn(out, yb)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            # as our loop does: keep every step's loss and count correct predictions
            losses.append(loss.item())
            correct += int((out.argmax(dim=1) == yb).sum())
        return time.perf_counter() - start

    def accuracy(self, X, y):
        self.model.eval()
        with self.torch.no_grad():
            predictions = self.model(self.torch.from_numpy(X)).argmax(dim=1).numpy()
        return float((predictions == y).mean())


class KerasTrainer:
    """experiments/keras_baseline.py's Keras model, one epoch per call (its cosine schedule
    counts steps across the calls, so the run is the same as experiments/keras_baseline.py's)."""

    def __init__(self, train, sizes, epochs, batch_size):
        from experiments.keras_baseline import epoch_timer, import_keras_quietly, make_model
        keras = import_keras_quietly()
        keras.utils.set_random_seed(0)
        self.train, self.batch_size, self.done = train, batch_size, 0
        total_steps = epochs * -(-len(train[0]) // batch_size)
        self.model = make_model(keras, sizes, 0.1, 0.05, 0.9, total_steps)
        self.timer = epoch_timer(keras)
        self.version = keras.__version__

    def epoch(self):
        self.model.fit(*self.train, batch_size=self.batch_size, initial_epoch=self.done,
                       epochs=self.done + 1, shuffle=True, callbacks=[self.timer], verbose=0)
        self.done += 1
        return self.timer.seconds[-1]

    def accuracy(self, X, y):
        predictions = self.model.predict(X, batch_size=10000, verbose=0).argmax(axis=1)
        return float((predictions == y).mean())


def worker_ops(args):
    """One epoch's worth (782 calls) of single operations of a training step,
    alone, with the alternatives the speed work weighed. Medians of 5."""
    import math
    import numpy as np
    from layers import cross_entropy, dropout_forward, relu_backward, softmax_forward
    from optim import SCHEDULES, SGD, scal_axpy
    from model import MLP
    rng = np.random.default_rng(0)
    n, batch = 50000, 64
    steps = -(-n // batch)
    X = rng.random((n, 784), dtype=np.float32)
    y = rng.integers(0, 10, n)
    order = rng.permutation(n)
    model = MLP(dropout=0.1, seed=0)
    grads = {k: rng.standard_normal(v.shape).astype(v.dtype) for k, v in model.params.items()}
    optimizer = SGD(lr=1e-6, momentum=0.9)
    h1 = rng.random((batch, 128), dtype=np.float32)
    h2 = rng.random((batch, 64), dtype=np.float32)
    logits = rng.standard_normal((batch, 10)).astype(np.float32)
    yb = y[:batch]
    _, cache = softmax_forward(logits)
    shuffled = np.empty_like(X)

    def rng_random_masks():  # the previous dropout mask: floats from rng.random
        for h in (h1, h2):
            mask = (rng.random(h.shape, dtype=h.dtype) < 0.9).astype(h.dtype)
            mask /= h.dtype.type(0.9)
            h * mask

    def coins_16_bit_masks():  # an alternative: four 16-bit coins per 64-bit draw
        for h in (h1, h2):
            words = -(-h.size // 4)
            bits = rng.bit_generator.random_raw(words).view(np.uint16)[:h.size].reshape(h.shape)
            mask = (bits < round(0.9 * 2**16)).astype(h.dtype)
            mask *= h.dtype.type(2**16 / round(0.9 * 2**16))
            h * mask

    velocity = {k: np.zeros_like(v) for k, v in model.params.items()}
    lr_g = {k: np.empty_like(v) for k, v in model.params.items()}

    def operator_update():  # the update with NumPy's operators, the leanest way
        for name, g in grads.items():
            np.multiply(g, np.float32(1e-6), out=lr_g[name])
            velocity[name] *= np.float32(0.9)
            velocity[name] -= lr_g[name]
            model.params[name] += velocity[name]

    # dW and its momentum, v <- 0.9 v - lr x^T dz, for the three weight matrices:
    # the product, then BLAS scal and axpy (now), against one GEMM each.
    scal, axpy = scal_axpy(np.float32)
    layer_inputs = [X[:batch], h1, h2]
    layer_errors = [rng.random((batch, W.shape[1]), dtype=np.float32)
                    for W in (model.params[f"W{i}"] for i in (1, 2, 3))]
    weight_velocities = [velocity[f"W{i}"] for i in (1, 2, 3)]

    def products_then_momentum():
        for x, dz, v in zip(layer_inputs, layer_errors, weight_velocities):
            dW = x.T @ dz
            scal(np.float32(0.9), v.reshape(-1))
            axpy(dW.reshape(-1), v.reshape(-1), a=np.float32(-1e-6))

    def products_with_momentum():
        for x, dz, v in zip(layer_inputs, layer_errors, weight_velocities):
            momentum_in_the_product(x, dz, v, 1e-6, 0.9)

    def cross_entropy_np_mean():  # the previous cross_entropy
        shifted, sums = cache
        float(np.mean(np.log(sums[:, 0]) - shifted[np.arange(batch), yb]))

    ops = {
        "x @ W1 (64x784 @ 784x128), for scale": lambda: X[:batch] @ model.params["W1"],
        "gather the batch, X[idx]": lambda: X[order[:batch]],
        "SGD momentum update of all weights, BLAS scal and axpy (now)":
            lambda: optimizer.step(model.params, grads),
        "SGD momentum update of all weights, NumPy's four operators (no flush)":
            operator_update,
        "dW of the three weight matrices and their momentum: x^T dz, then BLAS scal "
        "and axpy (now)": products_then_momentum,
        "the same in one GEMM each, beta = momentum (not taken)": products_with_momentum,
        "dropout masks, 32-bit raw coins (now)":
            lambda: (dropout_forward(h1, 0.1, rng), dropout_forward(h2, 0.1, rng)),
        "dropout masks, 16-bit raw coins (not taken: new masks)": coins_16_bit_masks,
        "dropout masks, rng.random floats (before)": rng_random_masks,
        "softmax": lambda: softmax_forward(logits),
        "cross_entropy, sum / n (now)": lambda: cross_entropy(cache, yb),
        "cross_entropy, np.mean (before)": cross_entropy_np_mean,
        "ReLU backward, both layers": lambda: (relu_backward(h1.copy(), h1),
                                               relu_backward(h2.copy(), h2)),
        "training accuracy: argmax == y, count": lambda: int(np.count_nonzero(
            logits.argmax(axis=1) == yb)),
        "cosine schedule (np.cos)": lambda: SCHEDULES["cosine"](0.3),
        "cosine schedule (math.cos), for comparison":
            lambda: 0.5 * (1.0 + math.cos(math.pi * 0.3)),
    }
    result = {}
    for name, op in ops.items():
        times = []
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(steps):
                op()
            times.append(time.perf_counter() - start)
        result[name] = float(np.median(times))
    times = []
    for _ in range(5):  # the alternative to gathering: permute all of X once per epoch
        start = time.perf_counter()
        np.take(X, rng.permutation(n), axis=0, out=shuffled)
        times.append(time.perf_counter() - start)
    result["shuffle all of X once (instead of gathering)"] = float(np.median(times))
    return result


def worker(args):
    """Our default training run, with the comparisons interleaved between its
    epochs: after each of our epochs, one epoch of the matmul floor, of the
    update and masks alone, and of PyTorch. Machine load that comes and goes
    then hits all of them alike, so their ratios hold even on a busy machine."""
    import numpy as np
    from model import MLP
    from optim import SCHEDULES, SGD, count_subnormals, state_arrays
    from train import fit
    train, val, test = load_data(args.data)
    n = len(train[0])
    sizes = (train[0].shape[1], *args.hidden, 10)
    floor, flops = matmul_floor(sizes, n, args.batch_size)
    other = None  # the framework interleaved with ours, if any
    if args.framework == "torch":
        try:
            other = TorchTrainer(train, sizes, args.epochs, args.batch_size, args.threads)
        except ImportError:
            pass
    elif args.framework == "keras":
        other = KerasTrainer(train, sizes, args.epochs, args.batch_size)
    times = {"floor": [], "framework": []}
    test_accuracy, parts, counts = [], [], []
    model = MLP(sizes, dropout=0.1, seed=0)
    optimizer = SGD(lr=0.05, momentum=0.9)
    X = train[0]
    if args.parts:
        clock = StepClock()
        X = clock.instrument(model, optimizer, X)

    def between_epochs(epoch):  # fit calls this after each timed pass, on its thread,
        # before that epoch's validation starts: nothing else runs beside these
        if args.parts:  # first, before anything else runs through the wrappers
            parts.append(clock.take())
            counts.append({"params": count_subnormals(model.params.values()),
                           "optimizer": count_subnormals(state_arrays(optimizer))})
        test_accuracy.append(model.accuracy(*test))
        times["floor"].append(timed(floor))
        if other is not None:
            times["framework"].append(other.epoch())

    history = fit(model, optimizer, (X, train[1]), val, args.epochs,
                  args.batch_size, seed=0, schedule=SCHEDULES["cosine"],
                  log=lambda line: None, on_epoch_end=between_epochs)
    result = {"seconds": history["seconds"], "test_accuracy": test_accuracy, "flops": flops,
              "median": {k: float(np.median(v)) for k, v in times.items() if v},
              "parts": parts, "subnormals": counts, "framework": None,
              "steps": -(-n // args.batch_size)}
    result["median"]["ours"] = float(np.median(history["seconds"]))
    if other is not None:
        result["framework"] = {"version": other.version,
                               "test_accuracy": other.accuracy(*test)}
    return result


# ---- the parent: start workers, collect, print the table --------------------
def child_env(threads):
    env = dict(os.environ)
    if threads is not None:
        env["OPENBLAS_NUM_THREADS"] = str(threads)  # NumPy's; PyTorch's are set in the worker
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return env


def run_child(cmd, threads=None):
    """Run cmd to its end and return its stdout; raise RuntimeError if it fails."""
    proc = subprocess.run(cmd, cwd=ROOT, env=child_env(threads), capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(child_error(cmd, proc.returncode, proc.stderr))
    return proc.stdout


def child_error(cmd, code, stderr):
    """The child's own one-line error if it gave one, else the end of its stderr."""
    lines = stderr.strip().splitlines()
    if lines and lines[-1].startswith("error: "):
        return lines[-1][len("error: "):]
    return f"{' '.join(cmd)} failed ({code}):\n{stderr[-2000:]}"


def run_worker(args, threads, epochs, batch_size=64, hidden=(128, 64), framework="none",
               parts=True):
    cmd = [sys.executable, "-m", "experiments.speed", "--worker", "--threads", str(threads),
           "--epochs", str(epochs), "--batch-size", str(batch_size),
           "--hidden", *map(str, hidden), "--framework", framework]
    cmd += [] if parts else ["--no-parts"]
    if args.data:
        cmd += ["--data", args.data]
    return json.loads(run_child(cmd, threads).strip().splitlines()[-1])


def run_script(cmd):
    """Wall seconds and peak resident memory (MB) of a whole script, as a user runs it."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=child_env(None), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    # os.wait4 reports this child's own peak RSS (ru_maxrss, KB on Linux).
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    err = proc.stderr.read().decode()
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(child_error(cmd, code, err))
    return wall, usage.ru_maxrss / 1024


def first_epoch_reaching(accuracies, seconds, target):
    for epoch, acc in enumerate(accuracies, start=1):
        if acc >= target:
            return f"epoch {epoch}, after {sum(seconds[:epoch]):.1f} s of training"
    return f"not within {len(accuracies)} epochs"


def provenance_lines(data_path):
    """The report's lines on where its figures came from (see provenance.py)."""
    from provenance import environment, summary
    env = environment(data_path)
    env["blas"]["threads"] = None  # this process's; the workers set their own, said below
    data = env["data"]
    hashes = ", ".join(f"{name} {digest}" for name, digest in (data["sha256"] or {}).items())
    return [f"Machine and software: {summary(env)}  ",
            f"BLAS at run time: {env['blas']['config'] or 'unknown'}; 1 thread in every "
            "worker but the 2-thread ones  ",
            f"Data: {data['source']}; SHA-256: {hashes or 'unknown'}  "]


def say_breakdown(say, run, unclocked):
    """Per epoch, where the training pass went (timed inside the loop, see StepClock),
    and how many subnormal numbers the weights and the optimizer's state held.
    ``unclocked``: the headline run's median epoch over its floor (no clocks)."""
    parts, floor = run["parts"], run["median"]["floor"]
    names = [p for p in StepClock.PARTS if any(epoch[p] for epoch in parts)]
    say("Where each epoch of ours goes (1 thread; each part timed inside the training loop, "
        "on the state training leaves, in a run of its own; \"loop\" is the rest of the "
        "timed pass: the loop's own Python, and the clocks' own cost). Subnormals: entries "
        "of the weights / of the optimizer's state that are nonzero but below float32's "
        "smallest normal number, at the end of the epoch; arithmetic on them is slow on "
        "many CPUs.")
    say()
    say("| epoch | s | " + " | ".join(names) + " | loop | subnormals |")
    say("|---:|---:|" + "---:|" * len(names) + "---:|---:|")
    rows = []
    for epoch, (seconds, epoch_parts, count) in enumerate(
            zip(run["seconds"], parts, run["subnormals"]), start=1):
        loop = seconds - sum(epoch_parts[p] for p in names)
        rows.append([seconds, *(epoch_parts[p] for p in names), loop])
        say(f"| {epoch} | {seconds:.3f} | " + " | ".join(f"{epoch_parts[p]:.3f}" for p in names)
            + f" | {loop:.3f} | {count['params']} / {count['optimizer']} |")
    import numpy as np
    median = np.median(rows, axis=0)
    say("| median | " + " | ".join(f"{v:.3f}" for v in median) + " | |")
    share = {name: median[i + 1] / median[0] for i, name in enumerate(names)}
    say()
    say(f"Of the median epoch: the matrix products alone (the floor, measured in this run) "
        f"would take {floor:.3f} s ({floor / median[0]:.0%}); " + ", ".join(
            f"{name} {value:.0%}" for name, value in share.items())
        + f", the loop's own Python {median[-1] / median[0]:.0%}. With the clocks the "
        f"epoch is {median[0] / floor:.2f}x this run's floor; without them (the headline "
        f"run) {unclocked:.2f}x.")
    say()


def benchmark(args):
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    epochs, timing_epochs = args.epochs, args.timing_epochs
    lines = []

    def say(text=""):
        print(text, flush=True)
        lines.append(text)

    def progress(text):
        print(f"... {text}", file=sys.stderr, flush=True)

    use_torch = "torch" not in args.skip
    progress(f"our default run ({epochs} epochs, 1 BLAS thread), the floor"
             + (" and PyTorch" if use_torch else "") + " interleaved")
    # The headline run is the trainer exactly as train.py runs it; the clocks of
    # the breakdown cost time of their own, so they get a run of their own.
    runs = {1: run_worker(args, 1, epochs, framework="torch" if use_torch else "none",
                          parts=False)}
    progress(f"our default run again, each part of a step on a clock ({epochs} epochs)")
    parts_run = run_worker(args, 1, epochs)
    if "threads2" not in args.skip:
        progress(f"the same with 2 threads ({timing_epochs} epochs)")
        runs[2] = run_worker(args, 2, timing_epochs, framework="torch" if use_torch else "none",
                             parts=False)
    keras_run = None
    if "keras" not in args.skip:
        progress(f"our default run and Keras (experiments/keras_baseline.py's model), {epochs} epochs interleaved")
        keras_run = run_worker(args, 1, epochs, framework="keras", parts=False)

    main_run = runs[1]
    ours = main_run["median"]["ours"]
    floor = main_run["median"]["floor"]
    say(f"# Benchmark: the from-scratch NumPy MLP, PyTorch and Keras ({started})")
    say()
    say(f"Made by `{args.command}`  ")
    for line in provenance_lines(args.data):
        say(line)
    say("Network 784-128-64-10, batch 64, dropout 0.1, SGD momentum 0.9, lr 0.05 with cosine "
        "decay, 50,000 training images. Seconds per epoch: medians over epochs of the "
        "training pass alone. Each worker process runs our trainer and, between its epochs, "
        "one epoch of the matmul floor and of the framework it is compared with, so that "
        "all see the same machine load; the ratios are taken within a process.")
    say()
    say("| trainer | s / epoch | x floor | ours is faster by | test accuracy |")
    say("|---|---:|---:|---:|---:|")

    def row(name, seconds, run, accuracy=None, bold=False):
        """One line; the ratios use our time and the floor measured in the same process."""
        acc = "" if accuracy is None else f"{accuracy:.2%}"
        b = "**" if bold else ""
        say(f"| {b}{name}{b} | {b}{seconds:.3f}{b} | "
            f"{seconds / run['median']['floor']:.2f} | "
            f"{seconds / run['median']['ours']:.2f}x | {acc} |")

    row("ours (NumPy, 1 BLAS thread: the default)", ours, main_run,
        main_run["test_accuracy"][-1], bold=True)
    if main_run["framework"] is not None:
        row(f"PyTorch {main_run['framework']['version']} eager, 1 thread",
            main_run["median"]["framework"], main_run, main_run["framework"]["test_accuracy"])
    elif use_torch:
        say("| PyTorch eager | not installed | | | |")
    if keras_run is not None:
        row(f"Keras {keras_run['framework']['version']} (TensorFlow, its default threads), "
            "experiments/keras_baseline.py's model", keras_run["median"]["framework"], keras_run,
            keras_run["framework"]["test_accuracy"])
        row("ours again, in the Keras process", keras_run["median"]["ours"], keras_run,
            keras_run["test_accuracy"][-1])
    row("floor: the epoch's matrix products alone, 1 thread", floor, main_run)
    say()
    say(f"Test accuracy after the {epochs} epochs of the default run. Each framework runs "
        "in one process with ours (PyTorch in one, Keras in another); \"x floor\" and "
        "\"ours is faster by\" use the floor and our time from the same process.")
    say()
    if 2 in runs:
        run2 = runs[2]
        say(f"With 2 threads (BLAS for ours and the floor, torch.set_num_threads for PyTorch; "
            f"median of {timing_epochs} epochs, in a process of its own):")
        say()
        say("| trainer, 2 threads | s / epoch | x floor (2 threads) | "
            "vs the same with 1 thread |")
        say("|---|---:|---:|---:|")
        pairs = [("ours (NumPy)", run2["median"]["ours"], ours),
                 ("floor: matrix products alone", run2["median"]["floor"], floor)]
        if run2["framework"] is not None:
            pairs.insert(1, ("PyTorch eager", run2["median"]["framework"],
                             main_run["median"]["framework"]))
        for name, seconds, one_thread in pairs:
            say(f"| {name} | {seconds:.3f} | {seconds / run2['median']['floor']:.2f} | "
                f"{seconds / one_thread:.2f}x |")
        say()
    flops = main_run["flops"]
    say(f"The floor: one epoch needs {flops / 1e9:.1f} GFLOP of float32 matrix products "
        "(x W forward; x^T dz, and dz W^T except for the first layer, backward). Timed alone, "
        f"with the same shapes and layouts, they run at {flops / floor / 1e9:.0f} GFLOP/s "
        "on 1 thread"
        + (f" and {flops / runs[2]['median']['floor'] / 1e9:.0f} GFLOP/s on 2" if 2 in runs
           else "") + ".")
    say()
    say_breakdown(say, parts_run, ours / floor)

    if "ops" not in args.skip:
        progress("single operations of a step, alone")
        ops = run_worker(args, 1, 1, framework="ops")
        say("Single operations, one epoch's worth (782 calls) each, timed alone on 1 thread "
            "(the profile behind the choices in layers.py, optim.py and train.py):")
        say()
        say("| operation | ms / epoch |")
        say("|---|---:|")
        for name, seconds in ops.items():
            say(f"| {name} | {seconds * 1e3:.1f} |")
        say()

    if "train" not in args.skip:
        progress(f"a whole default python train.py, {DEFAULT_RUNS} times")
        with tempfile.TemporaryDirectory() as tmp:
            cmd = [sys.executable, "train.py", "--out", tmp]
            cmd += ["--epochs", str(epochs)] if epochs != 20 else []
            cmd += ["--data", args.data] if args.data else []
            walls, outside = [], []
            for _ in range(DEFAULT_RUNS):
                wall, peak_mb = run_script(cmd)
                with open(os.path.join(tmp, "results.json")) as f:
                    result = json.load(f)
                walls.append(wall)
                outside.append(wall - result["train_seconds"])
        # The report names no folder of this machine: the data's own path is the reader's.
        shown = " ".join(["python", *cmd[1:]]).replace(tmp, "OUT")
        if args.data:
            shown = shown.replace(args.data, "DATA")
        say("| our default run | |")
        say("|---|---|")
        runs = " / ".join(f"{w:.1f}" for w in walls)
        say(f"| wall time of `{shown}`: imports, data, {epochs} epochs, evaluation, plot, "
            f"saving (median of {DEFAULT_RUNS} runs) | {statistics.median(walls):.1f} s ({runs}) |")
        runs = " / ".join(f"{w:.2f}" for w in outside)
        say(f"| of which outside its training passes (wall time minus results.json's "
            f"train_seconds) | {statistics.median(outside):.2f} s ({runs}) |")
        say(f"| its peak resident memory (ru_maxrss) | {peak_mb:.0f} MB |")
        say(f"| its test accuracy | {result['test_accuracy']:.2%} |")
        for target in (0.97, 0.98):
            reached = first_epoch_reaching(main_run["test_accuracy"], main_run["seconds"], target)
            say(f"| {target:.0%} test accuracy first reached at | {reached} |")
        say()

    if "scaling" not in args.skip:
        n_scale = args.scaling_epochs
        say(f"Scaling: ours (1 thread, median of {n_scale} epochs) against the floor "
            "measured alike, interleaved:")
        say()
        say("| batch | hidden | s / epoch | floor | x floor |")
        say("|---:|---|---:|---:|---:|")
        configs = [(b, (128, 64)) for b in BATCH_SIZES]
        configs += [(64, w) for w in WIDTHS if w != (128, 64)]
        outside = []  # (batch, seconds per step outside the products, steps), 128-64
        for batch, hidden in configs:
            progress(f"scaling: batch {batch}, hidden {hidden}")
            run = run_worker(args, 1, n_scale, batch, hidden, parts=False)
            m = run["median"]
            say(f"| {batch} | {'-'.join(map(str, hidden))} | {m['ours']:.3f} | "
                f"{m['floor']:.3f} | {m['ours'] / m['floor']:.2f} |")
            if hidden == (128, 64):
                outside.append((batch, (m["ours"] - m["floor"]) / run["steps"], run["steps"]))
        say()
        say_fixed_cost(say, outside)
    return "\n".join(lines) + "\n"


def say_fixed_cost(say, outside):
    """What a step costs beyond its matrix products, split by least squares into a
    part that does not depend on the batch (NumPy's cost per call, the update's
    passes over every weight, the loop's Python) and a part per image."""
    import numpy as np
    batches, seconds, _ = np.array(outside).T
    per_image, fixed = np.polyfit(batches, seconds, 1)
    steps = next(steps for batch, _, steps in outside if batch == 64)
    say(f"Beyond its matrix products a step costs about {fixed * 1e6:.0f} us whatever its "
        f"size, plus {per_image * 1e6:.2f} us per image (a straight line through the "
        f"batch rows above, least squares). At batch 64 the fixed part alone is "
        f"{fixed * steps:.3f} s of each epoch: the update's passes over all the weights, "
        "and the ~80 NumPy operations of a step, each a call of its own (1-3 us even on a "
        "tiny array) and a pass over memory of its own, where a compiled framework fuses "
        "them.")
    say()


def parse_args(argv=None):
    from data import DATA_HELP, default_data_path
    from cli import make_parser
    p = make_parser("Time our trainer against PyTorch, Keras and the matmul floor.", __spec__)
    p.add_argument("--data", default=default_data_path(), help=DATA_HELP)
    p.add_argument("--out", default="docs/reports/speed.md", help="markdown file for the tables")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: 2 epochs everywhere, no 2-thread runs, no scaling")
    p.add_argument("--skip", nargs="*", default=[],
                   choices=["torch", "keras", "threads2", "ops", "train", "scaling"],
                   help="parts to leave out")
    p.add_argument("--epochs", type=int, default=20,
                   help="epochs of our default run and of the Keras baseline")
    p.add_argument("--timing-epochs", type=int, default=3,
                   help="epochs of the 2-thread runs")
    p.add_argument("--scaling-epochs", type=int, default=3, help="epochs per scaling row")
    # the worker's own options
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--batch-size", type=int, default=64, help=argparse.SUPPRESS)
    p.add_argument("--hidden", type=int, nargs="+", default=[128, 64], help=argparse.SUPPRESS)
    p.add_argument("--no-parts", dest="parts", action="store_false", help=argparse.SUPPRESS)
    p.add_argument("--framework", choices=["none", "torch", "keras", "ops"], default="none",
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick and not args.worker:
        args.epochs = args.timing_epochs = 2
        args.skip = sorted(set(args.skip) | {"threads2", "scaling"})
    return args


def main(argv=None):
    from cli import single_blas_thread
    single_blas_thread()  # a worker's count comes from its parent's OPENBLAS_NUM_THREADS
    args = parse_args(argv)
    if args.worker:
        from data import DataError
        try:
            print(json.dumps(worker_ops(args) if args.framework == "ops" else worker(args)))
        except DataError as e:
            sys.exit(f"error: {e}")
        return
    args.command = " ".join(["python -m experiments.speed", *sys.argv[1:]])
    try:
        from cli import check_writable
        from data import DataError
        check_writable(os.path.dirname(os.path.abspath(args.out)))  # before, not after, minutes
    except DataError as e:
        sys.exit(f"error: {e}")
    try:
        table = benchmark(args)
    except RuntimeError as e:
        sys.exit(f"error: {e}")
    write_atomically(args.out, lambda f: f.write(table.encode()))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
