"""Shared fixtures.

Tests that need the real MNIST get it from the ``mnist_path`` fixture: the file
or folder named by $MNIST_DATA if set, else keras.datasets.mnist (which downloads
once and caches, as train.py does). With neither, those tests are skipped with
one line saying how to provide the data, and everything else still runs; under
CI (CI=true) a missing data set fails them instead, so it can never go unnoticed.
"""
import argparse
import contextlib
import gzip
import importlib
import io
import json
import os
import subprocess
import sys
import traceback
import types

# One BLAS thread, as train.py sets it, before anything imports NumPy: the small
# products of a batch gain nothing from a second thread, and on a busy machine the
# in-process training tests ran 3x slower with two.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from data import IDX_NAMES, DataError, load_keras, load_mnist  # noqa: E402

def under_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true",
                     help="also run the tests marked slow (measurements and long statistical "
                     "checks); CI (CI=true) always runs them")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: a long measurement or statistical check, left out of the default "
        "run; `python -m pytest --slow` (or CI=true) runs it")


def pytest_collection_modifyitems(config, items):
    """Leave the tests marked slow out (shown as deselected, not skipped) unless
    --slow is given or under CI, which runs everything."""
    if config.getoption("--slow") or under_ci():
        return
    slow = [item for item in items if item.get_closest_marker("slow")]
    if slow:
        config.hook.pytest_deselected(items=slow)
        items[:] = [item for item in items if not item.get_closest_marker("slow")]


NO_DATA = ("needs MNIST, which keras.datasets.mnist could not download (no network?): "
           "set MNIST_DATA=path/to/mnist.npz (or a folder of the four IDX files)")


def script_command(name):
    """The command a user types for the script ``name``, a path from the project's
    folder: ``python train.py`` at the top, ``python -m folder.script`` in a folder."""
    if os.path.dirname(name):
        return [sys.executable, "-m", name[:-len(".py")].replace("/", ".")]
    return [sys.executable, os.path.join(ROOT, name)]


def run_script(name, *args, timeout=300, **kwargs):
    """``python NAME ARGS...`` (or ``python -m folder.name``) as a user runs it,
    from the project's folder unless ``cwd`` says otherwise (one BLAS thread,
    inherited from here): the CompletedProcess, with stdout and stderr as text."""
    kwargs.setdefault("cwd", ROOT)
    env = dict(kwargs.pop("env", None) or os.environ)
    if os.path.dirname(name):  # python -m finds the module from the project's folder
        env["PYTHONPATH"] = ROOT
    return subprocess.run([*script_command(name), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout, **kwargs)


def parser_of(module, monkeypatch):
    """The ArgumentParser a script builds (grabbed as it parses)."""
    grabbed = []

    def grab(self, args=None, namespace=None):
        grabbed.append(self)
        raise SystemExit(0)
    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", grab)
    with pytest.raises(SystemExit):
        module.parse_args([])
    monkeypatch.undo()
    return grabbed[0]


def run_main(name, *args):
    """``python NAME ARGS...`` as a user sees it, run in this process (the
    script's main, a few hundredths of a second instead of a fifth or more for a
    new interpreter): a CompletedProcess with the exit status and what was
    printed. As the interpreter does: sys.exit("message") prints the message on
    stderr and exits 1; an uncaught exception prints its traceback and exits 1.
    What the script's ``if __name__ == "__main__"`` block adds (Ctrl-C) needs
    run_script."""
    module = importlib.import_module(name[:-len(".py")].replace("/", "."))
    out, err = io.StringIO(), io.StringIO()
    argv0 = sys.argv[0]
    sys.argv[0] = os.path.basename(name)  # argparse's program name in the usage line
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                module.main([str(arg) for arg in args])
                status = 0
            except SystemExit as e:
                status = e.code if isinstance(e.code, int) or e.code is None else 1
                if not isinstance(e.code, (int, type(None))):
                    print(e.code, file=sys.stderr)
            except Exception:
                traceback.print_exc()
                status = 1
    finally:
        sys.argv[0] = argv0
    return subprocess.CompletedProcess([name, *args], status or 0, out.getvalue(),
                                       err.getvalue())


def _no_data(reason):
    if under_ci():
        pytest.fail(f"{reason} (CI must run every test)", pytrace=False)
    pytest.skip(reason)


def write_idx(path, array):
    """``array`` (uint8) as a gzipped IDX file: magic 0x0000 08 ndim, the sizes
    as big-endian int32, then the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">i4").tobytes()
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header + np.ascontiguousarray(array, np.uint8).tobytes())


@pytest.fixture(scope="session")
def mnist_path(tmp_path_factory):
    """A local MNIST path (an .npz or an IDX folder) that --data and load_mnist take."""
    path = os.environ.get("MNIST_DATA")
    if path:  # named by the user: a wrong path is their error, shown by the tests
        return path
    try:
        arrays = load_keras()
    except DataError:
        _no_data(NO_DATA)
    path = str(tmp_path_factory.mktemp("mnist") / "mnist.npz")
    np.savez(path, **dict(zip(IDX_NAMES, arrays)))
    return path


@pytest.fixture(scope="session")
def mnist_arrays(mnist_path):
    """(x_train, y_train, x_test, y_test) as load_mnist returns them."""
    return load_mnist(mnist_path)


@pytest.fixture(scope="session")
def mnist_idx_folder(mnist_path, mnist_arrays, tmp_path_factory):
    """A folder of the four gzipped IDX files holding the same MNIST: the one
    beside mnist_path if it has them, else written from the arrays."""
    beside = mnist_path if os.path.isdir(mnist_path) else os.path.dirname(
        os.path.abspath(mnist_path))
    if all(os.path.exists(os.path.join(beside, name + ".gz")) for name in IDX_NAMES.values()):
        return beside
    folder = tmp_path_factory.mktemp("mnist-idx")
    for key, array in zip(IDX_NAMES, mnist_arrays):
        write_idx(folder / (IDX_NAMES[key] + ".gz"), array)
    return str(folder)


@pytest.fixture(scope="session")
def mnist(mnist_arrays):
    """(train, val, test) as prepared by train.py: float32 in [0, 1], flattened."""
    from data import prepare
    return prepare(mnist_arrays, val_size=10000)


@pytest.fixture(scope="session")
def trained_run(mnist_path, tmp_path_factory):
    """One real training run, shared by every test that only needs a trained
    network: ``train.py --epochs 3 --val-size 1000`` (the default 784-128-64-10
    network, seed 0, 59,000 training images: 97.5 % test accuracy, the network
    whose font-digit score the README quotes) on the real MNIST, in-process (~2 s).

    A namespace: ``folder`` (results.json, model.npz, loss_curve.png), ``stdout``
    (what train.py printed), ``results`` (results.json) and ``model`` (model.npz,
    loaded). Read them; write your own files elsewhere.
    """
    import train
    from model import MLP
    folder = tmp_path_factory.mktemp("trained")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        train.main(["--epochs", "3", "--val-size", "1000", "--data", mnist_path,
                    "--out", str(folder)])
    with open(folder / "results.json") as f:
        results = json.load(f)
    return types.SimpleNamespace(folder=folder, stdout=printed.getvalue(), results=results,
                                 model=MLP.load(folder / "model.npz"))


def quadrant_images(rng, n):
    """n 28x28 uint8 images whose class (0..3) is the quadrant holding a bright
    square, over uniform noise, and their labels: a task a small net learns in
    a few epochs."""
    y = rng.integers(0, 4, n)
    x = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
    for q in range(4):
        r, c = divmod(q, 2)
        x[y == q, r * 14 + 3:r * 14 + 11, c * 14 + 3:c * 14 + 11] = 255
    return x, y.astype(np.uint8)


@pytest.fixture(scope="session")
def quadrants(tmp_path_factory):
    """A small MNIST-shaped .npz (700 training, 200 test images of quadrant_images)
    whose test set disagrees with its training and validation sets: each test
    label is the next quadrant's, (true + 1) % 4. A network that learned the task
    scores near 1 on validation and near 0 on test, so any mix-up of the two
    (scoring on test, reporting validation as test) shows."""
    rng = np.random.default_rng(0)
    x_train, y_train = quadrant_images(rng, 700)
    x_test, y_test = quadrant_images(rng, 200)
    path = tmp_path_factory.mktemp("quadrants") / "quadrants.npz"
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test,
             y_test=((y_test + 1) % 4).astype(np.uint8))
    return str(path)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
