"""Reliability (issue 4): every bad input gets one clear line, no run destroys an
earlier result, Ctrl-C and divergence stop cleanly, numerics stay finite, and
one seed gives one result.

The command-line cases run train.py on tiny synthetic data sets written here
(8x8 images, a few dozen of them), so they need no MNIST. Most run train.main in
this process and see what a user would (run_train, conftest.run_main: the exit
status, stdout and stderr as ``python train.py`` shows them, a traceback for an
uncaught exception), a few hundredths of a second each instead of a fifth; the
cases that need a real process (Ctrl-C, one seed giving one result across
processes, a whole successful run, and an error of each kind) run ``python
train.py`` as a subprocess (run_train_as_user).
"""
import gzip
import os
import re
import signal
import subprocess
import sys
import threading
import zipfile

import numpy as np
import pytest

from conftest import ROOT, run_main
from fileio import write_atomically
from layers import cross_entropy, softmax_cross_entropy_backward, softmax_forward
from model import MLP

IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
OUTPUTS = ("results.json", "loss_curve.png", "model.npz")
# Flags that make a run on the tiny data sets fast and valid.
SMALL = ("--epochs", "1", "--val-size", "10", "--batch-size", "16", "--hidden", "16")


# ---- helpers ---------------------------------------------------------------
def tiny_mnist(n_train=60, n_test=20, side=8, seed=0):
    """(x_train, y_train, x_test, y_test) shaped like MNIST, only smaller."""
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, (n_train, side, side), dtype=np.uint8),
            rng.integers(0, 10, n_train).astype(np.uint8),
            rng.integers(0, 256, (n_test, side, side), dtype=np.uint8),
            rng.integers(0, 10, n_test).astype(np.uint8))


def write_npz(path, arrays=None, **replace):
    """A keras-layout .npz of tiny_mnist(), with some arrays replaced (None drops one)."""
    arrays = dict(zip(("x_train", "y_train", "x_test", "y_test"), arrays or tiny_mnist()))
    arrays.update(replace)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return str(path)


def idx_bytes(array):
    """An array in IDX format: 0, 0, type code, ndim, big-endian sizes, big-endian data."""
    code = {np.uint8: 0x08, np.int32: 0x0C}[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx_folder(folder, arrays=None, gz=False):
    os.makedirs(folder, exist_ok=True)
    for name, array in zip(IDX_NAMES, arrays or tiny_mnist()):
        data = idx_bytes(array)
        path = os.path.join(folder, name + (".gz" if gz else ""))
        with open(path, "wb") as f:
            f.write(gzip.compress(data) if gz else data)
    return str(folder)


def child_env():
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop("MNIST_DATA", None)  # every run here names its data itself
    return env


def default_sigint():
    # Background jobs of non-interactive shells start with SIGINT ignored, and
    # Python keeps it that way; give the child the default, so Ctrl-C works.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def run_train(*flags):
    """``python train.py FLAGS`` as a user sees it, run in this process."""
    return run_main("train.py", *flags)


def run_train_as_user(*flags, timeout=120):
    """``python train.py FLAGS`` in a new process."""
    return subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), *flags],
                          capture_output=True, text=True, env=child_env(), timeout=timeout,
                          preexec_fn=default_sigint)


def assert_one_line_error(proc, *words):
    """Non-zero exit, stderr one line starting "error:" with ``words`` in it, no traceback."""
    assert proc.returncode != 0, proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: "), proc.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def assert_usage_error(proc, flag):
    """argparse's way: exit 2, a usage line, then "train.py: error: ... flag ...", no traceback."""
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.startswith("usage: train.py"), proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("train.py: error: ") and flag in last, proc.stderr


def fill_out(folder):
    """An --out folder holding a previous run's outputs; returns their bytes."""
    os.makedirs(folder, exist_ok=True)
    before = {}
    for i, name in enumerate(OUTPUTS):
        before[name] = f"earlier result {i}: keep me\n".encode()
        with open(os.path.join(folder, name), "wb") as f:
            f.write(before[name])
    return before


def assert_untouched(folder, before):
    """The folder holds exactly the earlier files, byte for byte, and no leftovers."""
    assert sorted(os.listdir(folder)) == sorted(before)
    for name, content in before.items():
        with open(os.path.join(folder, name), "rb") as f:
            assert f.read() == content, name


TIMINGS = [re.compile(r'"(seconds_per_epoch|train_seconds)": [^,\n]+'),
           re.compile(r'"seconds": \[[^\]]*\]')]


def without_timings(text):
    """results.json text with the timing values (which differ run to run) blanked."""
    for pattern in TIMINGS:
        text = pattern.sub(lambda m: m.group(0).split(":")[0] + ": T", text)
    return text


# ---- data: one clear line naming the file ----------------------------------
def test_missing_path(tmp_path):
    path = str(tmp_path / "nowhere" / "mnist.npz")
    proc = run_train("--data", path, "--out", str(tmp_path / "out"), *SMALL)
    assert_one_line_error(proc, path, "no such file")


def test_not_an_npz_or_idx_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are my notes, not MNIST\n")
    proc = run_train("--data", str(path), "--out", str(tmp_path / "out"), *SMALL)
    assert_one_line_error(proc, str(path), "not an .npz file")


def test_single_idx_file_instead_of_folder(tmp_path):
    folder = write_idx_folder(tmp_path / "idx")
    path = os.path.join(folder, IDX_NAMES[0])
    proc = run_train("--data", path, "--out", str(tmp_path / "out"), *SMALL)
    assert_one_line_error(proc, path, "folder")


def test_truncated_npz(tmp_path):
    path = write_npz(tmp_path / "mnist.npz")
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:len(data) // 2])
    proc = run_train("--data", path, "--out", str(tmp_path / "out"), *SMALL)
    assert_one_line_error(proc, path, "truncated or corrupt")


def test_corrupt_npz(tmp_path):
    path = write_npz(tmp_path / "mnist.npz")
    data = bytearray(open(path, "rb").read())
    data[200:260] = bytes(b ^ 0xFF for b in data[200:260])  # inside x_train's data: CRC fails
    open(path, "wb").write(bytes(data))
    proc = run_train("--data", path, "--out", str(tmp_path / "out"), *SMALL)
    assert_one_line_error(proc, path, "corrupt")


def test_npz_member_that_is_not_an_array(tmp_path):
    path = str(tmp_path / "mnist.npz")
    with zipfile.ZipFile(path, "w") as z:
        for key in ("x_train", "y_train", "x_test", "y_test"):
            z.writestr(key + ".npy", b"not an array")
    proc = run_train("--data", path, "--out", str(tmp_path / "out"), *SMALL)
    assert_one_line_error(proc, path, "x_train")


def test_npz_missing_arrays(tmp_path):
    path = write_npz(tmp_path / "mnist.npz", x_test=None, y_test=None)
    proc = run_train("--data", path, "--out", str(tmp_path / "out"), *SMALL)
    assert_one_line_error(proc, path, "missing", "x_test")


def test_truncated_idx_file(tmp_path):
    folder = write_idx_folder(tmp_path / "idx")
    path = os.path.join(folder, IDX_NAMES[0])
    data = open(path, "rb").read()
    open(path, "wb").write(data[:-7])
    proc = run_train("--data", folder, "--out", str(tmp_path / "out"), *SMALL)
    assert_one_line_error(proc, path, "truncated")


def test_truncated_gzip_idx_file(tmp_path):
    folder = write_idx_folder(tmp_path / "idx", gz=True)
    path = os.path.join(folder, IDX_NAMES[2] + ".gz")
    data = open(path, "rb").read()
    open(path, "wb").write(data[:len(data) // 2])
    proc = run_train("--data", folder, "--out", str(tmp_path / "out"), *SMALL)
    assert_one_line_error(proc, path, "cannot read")


def test_idx_folder_missing_a_file(tmp_path):
    folder = write_idx_folder(tmp_path / "idx")
    os.remove(os.path.join(folder, IDX_NAMES[1]))
    proc = run_train("--data", folder, "--out", str(tmp_path / "out"), *SMALL)
    assert_one_line_error(proc, folder, IDX_NAMES[1])


def test_wrong_shapes(tmp_path):
    x_train = tiny_mnist()[0]
    path = write_npz(tmp_path / "mnist.npz", x_train=x_train.reshape(len(x_train), -1))
    proc = run_train("--data", path, "--out", str(tmp_path / "out"), *SMALL)
    assert_one_line_error(proc, path, "(N, rows, cols)", "(60, 64)")


def test_wrong_dtypes(tmp_path):
    x_train, y_train, _, _ = tiny_mnist()
    for name, replace, expected in (
            ("images", {"x_train": x_train.astype(np.float32)}, "uint8"),
            ("labels", {"y_train": y_train.astype(np.float64)}, "integers")):
        path = write_npz(tmp_path / f"{name}.npz", **replace)
        proc = run_train("--data", path, "--out", str(tmp_path / "out"), *SMALL)
        assert_one_line_error(proc, path, expected)


@pytest.mark.parametrize("bad_label", [10, 255, -1])
def test_labels_outside_the_classes(tmp_path, bad_label):
    y_test = tiny_mnist()[3].astype(np.int16)
    y_test[5] = bad_label
    path = write_npz(tmp_path / "mnist.npz", y_test=y_test)
    proc = run_train("--data", path, "--out", str(tmp_path / "out"), *SMALL)
    assert_one_line_error(proc, path, "test labels must be in 0..9", str(bad_label))


def test_image_and_label_counts_disagree(tmp_path):
    arrays = list(tiny_mnist())
    arrays[1] = arrays[1][:-3]  # 60 images, 57 labels, as IDX files
    folder = write_idx_folder(tmp_path / "idx", arrays)
    proc = run_train("--data", folder, "--out", str(tmp_path / "out"), *SMALL)
    assert_one_line_error(proc, folder, "60 train images but 57 train labels")


@pytest.mark.parametrize("val_size", ["60", "1000"])
def test_validation_size_leaves_no_training_data(tmp_path, val_size):
    path = write_npz(tmp_path / "mnist.npz")
    proc = run_train("--data", path, "--out", str(tmp_path / "out"), *SMALL,
                     "--val-size", val_size)
    assert_one_line_error(proc, path, f"--val-size {val_size}", "no training data")


@pytest.mark.parametrize("flags", [("--data", "absent.npz"), ("--epochs", "0")],
                         ids=["data error", "usage error"])
def test_errors_are_the_same_from_a_new_process(tmp_path, flags):
    """What run_train shows is what ``python train.py`` shows: the same exit
    status and the same lines."""
    flags = ("--data", str(tmp_path / "absent.npz"), "--out", str(tmp_path / "out"), *flags)
    here, there = run_train(*flags), run_train_as_user(*flags)
    assert (here.returncode, here.stdout, here.stderr) == (
        there.returncode, there.stdout, there.stderr)
    assert here.returncode != 0 and here.stderr


# ---- flags: argparse-style errors ------------------------------------------
@pytest.mark.parametrize("flags", [
    ("--batch-size", "0"), ("--batch-size", "-8"), ("--batch-size", "2.5"),
    ("--epochs", "0"), ("--epochs", "-1"),
    ("--lr", "0"), ("--lr", "-0.1"), ("--lr", "nan"), ("--lr", "inf"), ("--lr", "fast"),
    ("--dropout", "1"), ("--dropout", "-0.1"),
    ("--momentum", "1"), ("--momentum", "-0.5"),
    ("--hidden", "0"), ("--hidden", "128", "-5"), ("--hidden", "12.5"), ("--hidden", "wide"),
    ("--seed", "-1"), ("--val-size", "-1"), ("--l2", "-1e-4"),
    ("--optimizer", "rmsprop"),
    ("--no-such-flag",),
])
def test_bad_flags(tmp_path, flags):
    # Pointing --data at nothing: the flags must be refused before any data is read.
    proc = run_train("--data", str(tmp_path / "absent.npz"), "--out", str(tmp_path / "out"),
                     *flags)
    assert_usage_error(proc, flags[0])
    assert not (tmp_path / "out").exists()


# ---- divergence -------------------------------------------------------------
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_divergence_stops_with_advice_and_writes_nothing(tmp_path, optimizer):
    path = write_npz(tmp_path / "mnist.npz")
    out = tmp_path / "out"
    before = fill_out(out)
    proc = run_train("--data", path, "--out", str(out), *SMALL, "--epochs", "5", "--lr", "1e6",
                     "--optimizer", optimizer)
    line = assert_one_line_error(proc, "diverged", "lower learning rate", "--lr 1e+06")
    assert re.search(r"loss is (nan|inf)|no longer finite|loss exploded", line), line
    assert "Test accuracy" not in proc.stdout  # never from NaN weights
    assert_untouched(out, before)


def test_fit_stops_at_once_on_a_nan_loss():
    """The first non-finite loss ends training: no further step, no epoch line."""
    from optim import SGD
    from train import Diverged, fit
    X = np.random.default_rng(0).random((64, 8), dtype=np.float32)
    y = np.arange(64) % 3
    model = MLP((8, 5, 3))
    model.params["W2"][0, 0] = np.inf  # poisoned: the very first loss is NaN
    lines = []
    with pytest.raises(Diverged, match="epoch 1, step 1: loss is nan"):
        fit(model, SGD(lr=0.1), (X, y), (X[:0], y[:0]), epochs=3, batch_size=16,
            log=lines.append)
    assert lines == []


# ---- nothing lost -----------------------------------------------------------
def test_failed_run_leaves_earlier_results_untouched(tmp_path):
    path = write_npz(tmp_path / "mnist.npz", y_train=None)
    out = tmp_path / "out"
    before = fill_out(out)
    assert_one_line_error(run_train("--data", path, "--out", str(out), *SMALL), path)
    assert_untouched(out, before)


def test_successful_run_replaces_all_outputs(tmp_path):
    """The other side of the coin: a good run does write (so the checks above can fail)."""
    path = write_npz(tmp_path / "mnist.npz")
    out = tmp_path / "out"
    before = fill_out(out)
    proc = run_train_as_user("--data", path, "--out", str(out), *SMALL)
    assert proc.returncode == 0, proc.stderr
    assert sorted(os.listdir(out)) == sorted(OUTPUTS)  # no temporary files left over
    for name in OUTPUTS:
        assert (out / name).read_bytes() != before[name]
    MLP.load(str(out / "model.npz"))


def test_writes_are_atomic(tmp_path):
    """A write that fails halfway leaves the old file as it was and no temporary file."""
    target = tmp_path / "results.json"
    target.write_bytes(b"old")

    def write_half_then_fail(f):
        f.write(b"{\"half\": ")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(str(target), write_half_then_fail)
    assert os.listdir(tmp_path) == ["results.json"] and target.read_bytes() == b"old"

    model = MLP((4, 3, 2))
    model.params["b2"] = np.array([lambda: 0])  # cannot be pickled: np.savez fails midway
    weights = tmp_path / "model.npz"
    weights.write_bytes(b"old weights")
    with pytest.raises(Exception):
        model.save(str(weights))
    assert sorted(os.listdir(tmp_path)) == ["model.npz", "results.json"]
    assert weights.read_bytes() == b"old weights"


def test_unwritable_out_is_reported_before_training(tmp_path):
    path = write_npz(tmp_path / "mnist.npz")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    for out in (blocker / "results", blocker):  # under a file (works even as root), a file
        proc = run_train("--data", path, "--out", str(out), *SMALL)
        assert_one_line_error(proc, f"--out {out}")
        assert "Epoch" not in proc.stdout and "data:" not in proc.stdout
    assert blocker.read_text() == "not a folder"


# ---- Ctrl-C -----------------------------------------------------------------
def test_ctrl_c_stops_cleanly_and_writes_nothing(tmp_path):
    path = write_npz(tmp_path / "mnist.npz", tiny_mnist(n_train=500))
    out = tmp_path / "out"
    before = fill_out(out)
    # Enough epochs that training is still running when the signal arrives.
    proc = subprocess.Popen(
        [sys.executable, os.path.join(ROOT, "train.py"), "--data", path, "--out", str(out),
         *SMALL, "--epochs", "100000"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(),
        preexec_fn=default_sigint)
    try:
        for line in proc.stdout:
            if line.startswith("Epoch"):
                break
        proc.send_signal(signal.SIGINT)
        # Read the rest through the same text streams: communicate() reads the pipes
        # beneath them, and would lose the lines the loop above had already buffered
        # (several epochs' lines arrive in one read on a busy machine).
        watchdog = threading.Timer(60, proc.kill)
        watchdog.start()
        stdout, stderr = proc.stdout.read(), proc.stderr.read()
        proc.wait()
        watchdog.cancel()
    finally:
        proc.kill()
    assert proc.returncode != 0
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    match = re.fullmatch(r"interrupted after (\d+) of 100000 epochs: nothing was written\.",
                         lines[0])
    assert match, lines[0]
    finished = int(match.group(1))
    # One "Epoch" line was read above; the signal may land between an epoch's end and its line.
    assert finished >= 1 and finished - 2 <= stdout.count("Epoch") <= finished - 1
    assert_untouched(out, before)


# ---- loading saved weights ---------------------------------------------------
def saved_arrays(tmp_path):
    path = tmp_path / "good.npz"
    MLP((8, 5, 3), seed=1).save(str(path))
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def truncated(data):
    return data[:len(data) // 2]


def flipped(data):
    middle = len(data) // 2
    return data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 40]) + data[middle + 40:]


@pytest.mark.parametrize("damage, expected", [
    pytest.param(lambda a: truncated, "truncated or corrupt", id="truncated"),
    pytest.param(lambda a: flipped, "corrupt", id="bytes-flipped"),
    pytest.param(lambda a: (lambda data: b""), "truncated or corrupt", id="empty"),
    pytest.param(lambda a: (lambda data: b"plain text"), "not an .npz", id="not-a-zip"),
    pytest.param(lambda a: dict(a, W1=a["W1"][:, :4]), "W1 has shape (8, 4), expected (8, 5)",
                 id="wrong-W-shape"),
    pytest.param(lambda a: dict(a, b2=np.zeros(7, np.float32)), "b2 has shape (7,)",
                 id="wrong-b-shape"),
    pytest.param(lambda a: dict(a, sizes=np.array([8, 10**10, 3])), "W1 has shape",
                 id="huge-sizes"),
    pytest.param(lambda a: dict(a, sizes=np.array([8, -5, 3])), "sizes", id="negative-sizes"),
    pytest.param(lambda a: {k: v for k, v in a.items() if k != "b2"}, "no array 'b2'",
                 id="missing-b2"),
    pytest.param(lambda a: {k: v for k, v in a.items() if k != "sizes"}, "no array 'sizes'",
                 id="missing-sizes"),
    pytest.param(lambda a: dict(a, W2=np.full_like(a["W2"], np.nan)),
                 "W2 must hold finite floats", id="nan-weights"),
    pytest.param(lambda a: dict(a, W1=a["W1"].astype(str)), "W1 must hold finite floats",
                 id="string-weights"),
])
def test_loading_bad_weights_is_a_clear_error(tmp_path, damage, expected):
    good = saved_arrays(tmp_path)
    path = tmp_path / "model.npz"
    change = damage(good)
    if callable(change):  # damage the bytes of a good file
        MLP((8, 5, 3), seed=1).save(str(path))
        path.write_bytes(change(path.read_bytes()))
    else:  # a well-formed .npz with the wrong contents
        np.savez(path, **change)
    with pytest.raises(ValueError) as info:
        MLP.load(str(path))
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert expected in message


def test_loading_a_missing_weights_file(tmp_path):
    with pytest.raises(ValueError, match="cannot read"):
        MLP.load(str(tmp_path / "absent.npz"))


def test_weights_round_trip(tmp_path):
    """Save then load gives the same weights (so the errors above are not all there is)."""
    model = MLP((8, 5, 3), seed=2, dropout=0.25, l2=1e-3)
    model.save(str(tmp_path / "model.npz"))
    loaded = MLP.load(str(tmp_path / "model.npz"))
    assert loaded.sizes == (8, 5, 3) and loaded.dropout == 0.25 and loaded.l2 == 1e-3
    for name, value in model.params.items():
        assert loaded.params[name].dtype == value.dtype
        np.testing.assert_array_equal(loaded.params[name], value)


# ---- numerics ----------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_and_cross_entropy_finite_at_huge_logits(dtype):
    logits = np.array([[1e4, -1e4, 0.0],
                       [-1e4, -1e4, -1e4],
                       [1e4, 1e4, -1e4],
                       [-1e4, 1e4, 1e4]], dtype=dtype)
    # exp(-2e4) underflowing to 0 is right; overflow, NaN or log(0) would not be.
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        probs, cache = softmax_forward(logits)
        assert probs.dtype == dtype and np.isfinite(probs).all()
        np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-6)
        np.testing.assert_allclose(probs[0], [1, 0, 0])
        np.testing.assert_allclose(probs[1], [1 / 3] * 3, rtol=1e-6)
        # -log p_y = log(sum_k exp(l_k - max)) - (l_y - max): ~0 for a class 1e4 ahead,
        # ln 3 or ln 2 for ties, and 2e4 (+ ln 2 with a tie at the top) for one 2e4 behind.
        assert cross_entropy(cache, np.array([0, 0, 0, 1])) == pytest.approx(
            (0 + np.log(3) + np.log(2) + np.log(2)) / 4, rel=1e-5)
        loss = cross_entropy(cache, np.array([1, 1, 2, 0]))
        assert np.isfinite(loss)
        assert loss == pytest.approx((2e4 + np.log(3) + 2e4 + np.log(2) + 2e4 + np.log(2)) / 4,
                                     rel=1e-6)
        grad = softmax_cross_entropy_backward(probs, np.array([1, 1, 2, 0]))
        assert np.isfinite(grad).all()


# ---- same seed, same results --------------------------------------------------
def test_same_seed_gives_byte_identical_results(tmp_path, monkeypatch):
    path = write_npz(tmp_path / "mnist.npz", tiny_mnist(n_train=200))
    texts = {}
    # One run in a new process, the others in this one: nothing may depend on
    # the process (its earlier state, hash seeds, ...), only on the seed. Both
    # with one BLAS thread, as child_env gives the new one (results.json records it).
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")
    for name, seed, runner in (("a", "5", run_train_as_user), ("b", "5", run_train),
                               ("c", "6", run_train)):
        proc = runner("--data", path, "--out", str(tmp_path / name), *SMALL,
                      "--epochs", "2", "--dropout", "0.2", "--seed", seed)
        assert proc.returncode == 0, proc.stderr
        texts[name] = without_timings((tmp_path / name / "results.json").read_text())
    assert '"seconds_per_epoch": T' in texts["a"] and '"seconds": T' in texts["a"]
    assert texts["a"] == texts["b"]
    assert texts["a"] != texts["c"]  # the seed matters, so the equality above means something
    weights = [MLP.load(str(tmp_path / name / "model.npz")).params for name in "ab"]
    for key in weights[0]:
        np.testing.assert_array_equal(weights[0][key], weights[1][key])
