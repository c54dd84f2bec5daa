"""The command-line scripts as a newcomer meets them (issue 12): every default in
--help, the data path, where each figure came from, and the rough edges found
by trying things (models trained with --val-size 0 or on other image sizes,
class names, a results.json from another run, figures that cut or drop things).

The scripts run in-process on tiny synthetic data sets written here (a few
hundred images), so none of this needs MNIST and each test takes a second or two.
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess

import matplotlib
import matplotlib.pyplot
import numpy as np
import pytest

import data
import predict
import train
from classifiers import compare as baselines
from conftest import ROOT, parser_of, write_idx
from experiments import evaluate, tune
from experiments import keras_baseline as baseline
from experiments import speed as benchmark
from fileio import write_atomically
from handwriting import benchmark as handwriting_benchmark
from handwriting import serve
from handwriting import strokes as stroke_robustness
from model import MLP
from provenance import weights_sha256

matplotlib.use("Agg")  # the tests draw no window

PICTURES = {"confusion_matrix.png", "mistakes.png", "weights.png", "robustness.png",
            "dead_relu.png"}
# A run that takes well under a second on the data sets below.
SMALL = ["--epochs", "2", "--hidden", "16", "--batch-size", "32", "--val-size", "60"]


# ---- helpers ---------------------------------------------------------------
def write_data(path, shape=(28, 28), num_classes=10, n_train=300, n_test=60, seed=0):
    """A keras-layout .npz of images of ``shape`` whose class is where a bright
    block sits (so that a network learns something), plus noise."""
    rng = np.random.default_rng(seed)
    rows, cols = shape

    def images(n):
        y = rng.integers(0, num_classes, n)
        x = rng.integers(0, 60, (n, rows, cols)).astype(np.uint8)
        for c in range(num_classes):
            top = (c * rows) // num_classes
            x[y == c, top:top + max(1, rows // num_classes), :] = 255
        return x, y.astype(np.uint8)

    (x_train, y_train), (x_test, y_test) = images(n_train), images(n_test)
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return str(path)


def run(module, *args):
    """Run module.main(args) in-process: its exit message (the one line a user would
    see on stderr) if it failed, None if it succeeded."""
    try:
        module.main([str(a) for a in args])
    except SystemExit as e:
        if e.code not in (None, 0):
            return str(e.code)
    return None


def figures_of(monkeypatch, module, name="save_figure"):
    """Capture the figures ``module`` would save, instead of saving them."""
    figures = []
    monkeypatch.setattr(module, name, lambda fig, path: figures.append((os.path.basename(path),
                                                                         fig)))
    return figures


def pictures_not_drawn(monkeypatch, module):
    """Each figure ``module`` would save becomes an empty file of its name: for
    tests that look at which pictures are written, not at the pictures
    (drawing them was most of these tests' time; test_evaluate.py draws them)."""
    def save(fig, path):
        matplotlib.pyplot.close(fig)
        write_atomically(path, lambda f: None)
    monkeypatch.setattr(module, "save_figure", save)


@pytest.fixture(autouse=True)
def close_figures():
    """The figures captured by figures_of are never saved and closed: close them."""
    yield
    matplotlib.pyplot.close("all")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_data(tmp_path_factory.mktemp("data") / "tiny.npz")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory, tiny):
    """Two tiny training runs that differ only in their seed: folders a and b."""
    folder = tmp_path_factory.mktemp("runs")
    for name, seed in (("a", 0), ("b", 1)):
        assert run(train, "--data", tiny, "--out", folder / name, "--seed", seed, *SMALL) is None
    return folder


# ---- §1: what a newcomer reads -------------------------------------------------
OUR_FOLDERS = ("../" + "shared", "/work/" + "shared")  # spelt so that this file names neither


def test_no_user_facing_text_names_our_shared_folder():
    """Only .ci/run may name the folder of MNIST beside the project on our own
    machines: it exists there alone (the README says path/to/mnist.npz)."""
    try:
        files = subprocess.run(["git", "-C", ROOT, "ls-files"], capture_output=True,
                               text=True, check=True).stdout.split()
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: every file
        files = [os.path.relpath(os.path.join(d, f), ROOT)
                 for d, _, names in os.walk(ROOT) for f in names]
    offenders = []
    for name in files:
        if name == os.path.join(".ci", "run") or not name.endswith(
                (".py", ".md", ".txt", ".json", ".ini", ".cfg", ".toml", ".csv")):
            continue
        path = os.path.join(ROOT, name)
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read()
        offenders += [name for needle in OUR_FOLDERS if needle in text]
    assert offenders == []


SCRIPTS = {"train.py": train, "experiments/evaluate.py": evaluate, "predict.py": predict,
           "experiments/tune.py": tune, "experiments/keras_baseline.py": baseline, "experiments/speed.py": benchmark,
           "handwriting/serve.py": serve, "classifiers/compare.py": baselines,
           "handwriting/benchmark.py": handwriting_benchmark,
           "handwriting/strokes.py": stroke_robustness}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_help_shows_every_default_even_zero(script, monkeypatch):
    parser = parser_of(SCRIPTS[script], monkeypatch)
    text = " ".join(parser.format_help().split())  # undo argparse's line wrapping
    shown = 0
    for action in parser._actions:
        default = action.default
        if (action.help == argparse.SUPPRESS or default is None or default is False
                or default == argparse.SUPPRESS or not action.option_strings):
            continue
        if action.help and "(default" in action.help:  # says it in its own words
            assert " ".join(action.help.split()) in text
            continue
        assert f"(default: {default})" in text, (action.option_strings, default)
        shown += 1
    assert shown >= 1 or script == "predict.py"
    assert "(default: None)" not in text  # a flag with no default says nothing of one


def test_help_of_train_shows_the_zero_defaults():
    from contextlib import redirect_stdout
    from io import StringIO
    out = StringIO()
    with redirect_stdout(out), pytest.raises(SystemExit):
        train.parse_args(["--help"])
    text = " ".join(out.getvalue().split()).split("options:")[1]
    for flag in ("--seed", "--l2", "--warmup", "--shift", "--clean-epochs"):
        help_of_flag = text.rsplit(f"{flag} ", 1)[1].split(" --")[0]  # (--preset names some)
        assert "(default: 0" in help_of_flag, (flag, help_of_flag)


def test_empty_mnist_data_means_unset(monkeypatch):
    """MNIST_DATA="" (as after `export MNIST_DATA=` or `MNIST_DATA= python train.py`)
    is the keras path, as if unset, in every script; an empty --data is one clear line."""
    monkeypatch.setenv("MNIST_DATA", "")
    argv = {"experiments/speed.py": [], "handwriting/strokes.py": ["model.npz"]}
    for name in ("train.py", "experiments/evaluate.py", "experiments/tune.py", "experiments/keras_baseline.py", "experiments/speed.py",
                 "classifiers/compare.py", "handwriting/strokes.py"):
        args = SCRIPTS[name].parse_args(argv.get(name, ["--out", "x"]))
        assert args.data is None, name
    monkeypatch.setenv("MNIST_DATA", "some/mnist.npz")
    assert train.parse_args([]).data == "some/mnist.npz"
    with pytest.raises(data.DataError, match="empty"):
        data.load_mnist("")


def test_generated_files_are_ignored_by_git():
    if not os.path.exists(os.path.join(ROOT, ".git")):
        pytest.skip("not a git checkout")
    names = ["tune_out/trials.csv", "baseline.json", "runs/x/model.npz", ".venv/bin/python"]
    proc = subprocess.run(["git", "-C", ROOT, "check-ignore", "--no-index", *names],
                          capture_output=True, text=True)
    assert sorted(proc.stdout.split()) == sorted(names)


# ---- §2: every figure says where it came from -----------------------------------
def test_results_and_evaluation_record_the_environment(two_runs, tiny, tmp_path, monkeypatch):
    with open(two_runs / "a" / "results.json") as f:
        results = json.load(f)
    env = results["environment"]
    import platform
    assert env["python"] == platform.python_version()
    assert env["numpy"] == np.__version__
    assert env["cpu_count"] == os.cpu_count() and env["cpu"]
    assert env["blas"]["name"]  # NumPy's BLAS, as built
    if env["blas"]["threads"] is not None:  # read from the loaded OpenBLAS
        assert env["blas"]["threads"] == 1  # train.py's default
    with open(tiny, "rb") as f:
        assert env["data"]["sha256"] == {"tiny.npz": hashlib.sha256(f.read()).hexdigest()}
    assert tiny not in json.dumps(results)  # the hash, not this machine's folder
    git = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True,
                         text=True)
    if git.returncode == 0:
        assert env["git"]["commit"] == git.stdout.strip()
        assert isinstance(env["git"]["dirty"], bool)
    assert results["weights_sha256"] == weights_sha256(
        MLP.load(str(two_runs / "a" / "model.npz")).params)

    pictures_not_drawn(monkeypatch, evaluate)
    assert run(evaluate, "--model", two_runs / "a" / "model.npz", "--data", tiny,
               "--out", tmp_path) is None
    with open(tmp_path / "evaluation.json") as f:
        evaluation = json.load(f)
    assert evaluation["environment"]["data"] == env["data"]
    assert evaluation["weights_sha256"] == results["weights_sha256"]
    lines = benchmark.provenance_lines(tiny)
    assert env["data"]["sha256"]["tiny.npz"] in "".join(lines)
    assert f"Python {env['python']}" in "".join(lines)


def test_idx_folder_is_hashed_file_by_file(tmp_path):
    from provenance import data_info
    arrays = np.load(write_data(tmp_path / "tiny.npz"))
    folder = tmp_path / "idx"
    folder.mkdir()
    for key, name in data.IDX_NAMES.items():
        write_idx(folder / (name + ".gz"), arrays[key])
    info = data_info(str(folder))
    assert sorted(info["sha256"]) == sorted(n + ".gz" for n in data.IDX_NAMES.values())
    name = data.IDX_NAMES["y_test"] + ".gz"
    assert info["sha256"][name] == hashlib.sha256((folder / name).read_bytes()).hexdigest()


def test_validation_loss_comes_from_the_same_pass_as_validation_accuracy(tiny):
    (X, y), (Xv, yv), _ = data.prepare(data.load_mnist(tiny), 60)
    model = MLP((784, 16, 10), dropout=0.2, l2=1e-3, seed=0)
    passes = []  # (rows, train) of every forward pass
    forward = model.forward

    def counted(X_, train=False):
        passes.append((len(X_), train))
        return forward(X_, train)
    model.forward = counted
    history = train.fit(model, train.SGD(lr=0.05), (X, y), (Xv, yv), epochs=2, batch_size=32,
                        log=lambda line: None)
    assert passes.count((len(Xv), False)) == 2  # one validation pass per epoch
    model.forward = forward
    # The last epoch's figure is the loss of the final weights, with the L2 term, no dropout.
    loss, _ = model.loss(Xv, yv)
    assert history["val_loss"][-1] == pytest.approx(loss, rel=1e-6)
    assert len(history["val_loss"]) == 2 and history["val_loss"][0] != history["val_loss"][1]


def test_loss_curve_shows_validation_loss_and_whole_epochs():
    for epochs in (1, 2, 20):
        history = {"loss": list(np.linspace(1, 0.1, epochs)),
                   "accuracy": list(np.linspace(0.8, 0.99, epochs)),
                   "val_loss": list(np.linspace(0.9, 0.2, epochs)),
                   "val_accuracy": list(np.linspace(0.85, 0.98, epochs)),
                   "iteration_loss": list(np.linspace(2, 0.1, 50 * epochs))}
        fig = train.history_figure(history)
        per_epoch = [ax for ax in fig.axes if ax.get_xlabel() == "epoch"]
        assert len(per_epoch) == 2
        loss_lines = [line.get_ydata() for line in per_epoch[0].get_lines()]
        assert any(np.allclose(y, history["val_loss"]) for y in loss_lines)
        for ax in per_epoch:
            low, high = ax.get_xlim()
            ticks = [t for t in ax.get_xticks() if low <= t <= high]
            assert ticks and all(float(t).is_integer() for t in ticks), (epochs, ticks)
        matplotlib.pyplot.close(fig)


def test_loss_curve_log_axes_label_the_usual_ticks_as_plain_numbers():
    """The loss axes label the ticks matplotlib's log scale would label, with
    the values written out (0.3, not 3x10^-1 in mathtext, whose first use
    costs a run 0.3 s)."""
    history = {"loss": [0.31, 0.14, 0.1, 0.08], "accuracy": [0.9, 0.95, 0.97, 0.98],
               "val_loss": [0.15, 0.11, 0.1, 0.095], "val_accuracy": [0.95, 0.96, 0.97, 0.97],
               "iteration_loss": list(np.geomspace(2, 0.005, 400))}
    fig = train.history_figure(history)
    fig.canvas.draw()
    reference = matplotlib.pyplot.figure(figsize=fig.get_size_inches(), dpi=fig.dpi)
    for ax in fig.axes[:2]:
        assert ax.get_yscale() == "log"
        # The same axis with matplotlib's own formatters: which ticks get a label.
        ref = reference.add_axes(ax.get_position())
        ref.set_yscale("log")
        ref.set_ylim(ax.get_ylim())
        reference.canvas.draw()
        for ours, theirs in ((ax.yaxis.get_majorticklabels(), ref.yaxis.get_majorticklabels()),
                             (ax.yaxis.get_minorticklabels(), ref.yaxis.get_minorticklabels())):
            shown = [(t.get_position()[1], t.get_text()) for t in ours if t.get_text()]
            assert [y for y, _ in shown] == [t.get_position()[1] for t in theirs if t.get_text()]
            assert all("$" not in text and float(text) == pytest.approx(y) for y, text in shown)
        ref.remove()
    assert any(t.get_text() for t in fig.axes[1].yaxis.get_minorticklabels())  # one decade
    matplotlib.pyplot.close(reference)
    matplotlib.pyplot.close(fig)


# ---- §3: rough edges --------------------------------------------------------------
def test_evaluate_a_model_trained_without_validation_data(tiny, tmp_path, capsys, monkeypatch):
    assert run(train, "--data", tiny, "--out", tmp_path, *SMALL, "--val-size", "0") is None
    pictures_not_drawn(monkeypatch, evaluate)
    assert run(evaluate, "--model", tmp_path / "model.npz", "--data", tiny,
               "--out", tmp_path / "eval") is None
    assert "no dead-ReLU history" in capsys.readouterr().err
    assert set(os.listdir(tmp_path / "eval")) == PICTURES - {"dead_relu.png"} | {
        "evaluation.json"}


@pytest.mark.parametrize("shape", [(32, 32), (20, 24)])
def test_evaluate_any_image_size(tmp_path, monkeypatch, shape):
    path = write_data(tmp_path / "other.npz", shape)
    assert run(train, "--data", path, "--out", tmp_path, *SMALL) is None
    assert run(evaluate, "--model", tmp_path / "model.npz", "--data", path,
               "--out", tmp_path / "eval") is None
    assert set(os.listdir(tmp_path / "eval")) == PICTURES | {"evaluation.json"}
    figures = figures_of(monkeypatch, evaluate)
    run(evaluate, "--model", tmp_path / "model.npz", "--data", path, "--out", tmp_path / "e2")
    figures = dict(figures)
    mosaic = figures["weights.png"].axes[0].images[0].get_array()
    rows, cols = shape  # 16 units: 4 x 4 tiles of the images' shape, 9 px titles, 3 px gaps
    assert mosaic.shape == (4 * (rows + 9), 4 * (cols + 3) - 3)


def test_class_names_are_saved_and_shown(tmp_path, capsys, monkeypatch):
    names = ["cat", "dog", "bird"]
    path = write_data(tmp_path / "animals.npz", num_classes=3)
    (tmp_path / "names.txt").write_text("\n".join(names) + "\n")
    for given in (",".join(names), str(tmp_path / "names.txt")):
        assert run(train, "--data", path, "--out", tmp_path, *SMALL, "--classes", given) is None
        assert MLP.load(str(tmp_path / "model.npz")).classes == tuple(names)
        with open(tmp_path / "results.json") as f:
            assert json.load(f)["classes"] == names
    capsys.readouterr()

    figures = figures_of(monkeypatch, evaluate)
    assert run(evaluate, "--model", tmp_path / "model.npz", "--data", path,
               "--out", tmp_path / "eval") is None
    figures = dict(figures)
    out = capsys.readouterr().out
    table = out.split("\n")[1:5]
    assert table[0].split()[0] == "class"
    assert [line.split()[0] for line in table[1:]] == names
    ax = figures["confusion_matrix.png"].axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert ax.get_xlabel() == "predicted class"

    from PIL import Image
    image = np.zeros((40, 40), np.uint8)
    image[10:30, 18:22] = 255
    Image.fromarray(image).save(tmp_path / "x.png")
    assert run(predict, tmp_path / "x.png", "--model", tmp_path / "model.npz") is None
    line = capsys.readouterr().out
    answer, ranking = line.split(":", 1)[1].split("top 3:")
    assert answer.strip() in names
    assert all(f"{name}:" in ranking for name in names)  # 3 classes: all in the top 3


def test_bad_class_names_are_a_usage_error(capsys):
    for given in ("cat", "cat,cat", "cat,,dog"):
        with pytest.raises(SystemExit) as e:
            train.parse_args(["--classes", given])
        assert e.value.code == 2
        assert "--classes" in capsys.readouterr().err


def test_class_names_must_match_the_labels(tmp_path):
    path = write_data(tmp_path / "ten.npz")  # labels 0..9
    error = run(train, "--data", path, "--out", tmp_path, *SMALL, "--classes", "a,b,c")
    assert error.startswith("error: ") and "labels must be in 0..2" in error
    assert not (tmp_path / "model.npz").exists()


def test_model_files_without_class_names_are_digits(tmp_path):
    model = MLP((4, 3, 10))
    np.savez(tmp_path / "old.npz", sizes=np.array(model.sizes), l2=0.0, dropout=0.0,
             **model.params)  # as MLP.save wrote them before class names
    assert MLP.load(str(tmp_path / "old.npz")).classes == tuple("0123456789")


def test_results_json_from_another_run_is_caught(two_runs, tiny, tmp_path, capsys, monkeypatch):
    a, b = two_runs / "a", two_runs / "b"
    pictures_not_drawn(monkeypatch, evaluate)
    # Named with --results: the user asked for something that cannot be right.
    error = run(evaluate, "--model", a / "model.npz", "--results", b / "results.json",
                "--data", tiny, "--out", tmp_path / "named")
    assert error.startswith("error: ") and "another training run" in error
    assert "\n" not in error
    assert not (tmp_path / "named").exists() or not os.listdir(tmp_path / "named")
    # Only found beside the model: evaluate the model, but without a wrong history.
    beside = tmp_path / "copied"
    beside.mkdir()
    shutil.copy(a / "model.npz", beside / "model.npz")
    shutil.copy(b / "results.json", beside / "results.json")
    capsys.readouterr()
    assert run(evaluate, "--model", beside / "model.npz", "--data", tiny,
               "--out", tmp_path / "found") is None
    assert "another training run" in capsys.readouterr().err
    assert "dead_relu.png" not in os.listdir(tmp_path / "found")
    # Its own results.json: the history is used.
    assert run(evaluate, "--model", a / "model.npz", "--data", tiny,
               "--out", tmp_path / "own") is None
    assert "dead_relu.png" in os.listdir(tmp_path / "own")


def inside(fig):
    """Every piece of text of the figure lies within it (nothing cut off)."""
    from matplotlib.text import Text
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width, height = fig.bbox.width, fig.bbox.height
    outside = []
    for text in fig.findobj(Text):
        if text.get_visible() and text.get_text().strip():
            box = text.get_window_extent(renderer)
            if box.x0 < -0.5 or box.y0 < -0.5 or box.x1 > width + 0.5 or box.y1 > height + 0.5:
                outside.append(text.get_text())
    return outside


def test_confusion_matrix_labels_are_inside_the_picture(monkeypatch):
    figures = figures_of(monkeypatch, evaluate)
    counts = np.random.default_rng(0).integers(0, 12, (10, 10))
    np.fill_diagonal(counts, 980)
    evaluate.plot_confusion(counts, "confusion_matrix.png")
    evaluate.plot_confusion(counts[:3, :3], "c.png", ["T-shirt/top", "Trouser", "Pullover"])
    for _, fig in figures:
        assert inside(fig) == []


def test_dead_unit_counts_say_which_set(two_runs, tiny, tmp_path, monkeypatch, capsys):
    figures = figures_of(monkeypatch, evaluate)
    assert run(evaluate, "--model", two_runs / "a" / "model.npz", "--data", tiny,
               "--out", tmp_path) is None
    figures = dict(figures)
    with open(two_runs / "a" / "results.json") as f:
        dead_val = round(json.load(f)["history"]["dead_relu"][-1][0] * 16)
    with open(tmp_path / "evaluation.json") as f:
        dead_test = len(json.load(f)["dead_units_test"][0])
    title = " ".join(figures["weights.png"].axes[0].get_title().split())
    assert f"on the test set: {dead_test}" in title
    assert "validation set" in title and title.endswith(f": {dead_val}")
    assert "validation" in figures["dead_relu.png"].axes[0].get_title()
    out = capsys.readouterr().out
    assert f"{dead_test} of 16 on the test set, {dead_val} on the validation set" in out


def test_one_epoch_dead_relu_ticks_are_whole_epochs(monkeypatch):
    figures = figures_of(monkeypatch, evaluate)
    evaluate.plot_dead_relu([[0.1, 0.0]], [16, 8], "dead_relu.png")
    ax = figures[0][1].axes[0]
    low, high = ax.get_xlim()
    assert [t for t in ax.get_xticks() if low <= t <= high] == [1]


def test_tune_plot_keeps_every_trial():
    rows = [dict(hidden="100", l2=l2, lr=lr, val_accuracy=acc)
            for l2 in (0.0, 1e-4)
            for lr, acc in ((1e-4, 0.62), (5e-4, 0.91), (1e-3, 0.95), (5e-2, 0.0))]
    fig = tune.trials_figure(rows)
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    plotted = [y for line in ax.get_lines() if line.get_label() != "diverged"
               for y in line.get_ydata()]
    assert sorted(set(plotted)) == [0.62, 0.91, 0.95]
    assert all(low < y < high for y in plotted)
    assert any(line.get_label() == "diverged" for line in ax.get_lines())
    matplotlib.pyplot.close(fig)


def read_only_folder(tmp_path):
    """A folder nobody may write to (root may write anywhere but /proc)."""
    if os.geteuid() == 0:
        if not os.path.isdir("/proc/self"):
            pytest.skip("running as root without /proc: no folder is read-only")
        return "/proc"
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    return str(folder)


def test_tune_out_that_cannot_be_written_fails_before_any_trial(tiny, tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(tune, "load_mnist", lambda *a: started.append(a) or data.load_mnist(*a))
    error = run(tune, "--data", tiny, "--out", read_only_folder(tmp_path), "--quick",
                "--val-size", "60", "--workers", "1", "--hidden", "8", "--lr", "1e-3",
                "--reg", "0")
    assert error is not None and error.startswith("error: --out ") and "\n" not in error
    assert "cannot write there" in error
    assert started == []  # not even the data was loaded, let alone workers started


def test_one_blas_thread_in_every_loaded_openblas():
    """train.py loads two OpenBLAS libraries, NumPy's (matrix products) and SciPy's
    (the optimizer's axpy); left at its default, SciPy's ran the update on every
    core. Run as a user runs it: a fresh process without OPENBLAS_NUM_THREADS."""
    import sys
    if sys.platform != "linux":
        pytest.skip("finds the loaded libraries in /proc/self/maps (Linux)")
    code = ("import json, os, train, cli\n"
            "cli.single_blas_thread()\n"
            "def threads(): return [cli.openblas_function('get_num_threads', lib)()\n"
            "                       for lib in cli.loaded_openblas()]\n"
            "before = threads()\n"
            "with cli.blas_threads_for_big_products():\n"
            "    during = threads()\n"
            "print(json.dumps([before, during, threads(), os.cpu_count()]))\n")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    before, during, after, cores = json.loads(out.strip().splitlines()[-1])
    assert len(before) >= 1
    assert before == [1] * len(before) == after
    # The 10,000-image passes (validation, test) may use every core, NumPy's BLAS only.
    assert during == [cores] + [1] * (len(before) - 1)
    # A thread count the user chose is theirs everywhere.
    env["OPENBLAS_NUM_THREADS"] = "1"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    before, during, after, cores = json.loads(out.strip().splitlines()[-1])
    assert before == during == after == [1] * len(before)


def test_user_blas_threads_go_to_numpy_and_scipys_stays_on_one():
    """OPENBLAS_NUM_THREADS=2 is for NumPy's matrix products. SciPy's OpenBLAS,
    loaded later for the optimizer's axpy, stays on one thread: with both pools
    at 2 threads on 2 cores, each spun on the cores the other needed and an
    epoch took 10 s instead of 0.7 s."""
    import sys
    if sys.platform != "linux":
        pytest.skip("finds the loaded libraries in /proc/self/maps (Linux)")
    code = ("import json, numpy as np, cli, optim\n"
            "cli.single_blas_thread()\n"
            "optim.scal_axpy(np.float32)  # as train.py and SGD.step do: SciPy loads now\n"
            "print(json.dumps([cli.openblas_function('get_num_threads', lib)()\n"
            "                  for lib in cli.loaded_openblas()]))\n")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="2")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True).stdout
    threads = json.loads(out.strip().splitlines()[-1])
    # NumPy's first; a SciPy built against the same OpenBLAS (conda) shares its
    # pool, and then there is nothing to collide with. The PyPI wheels bring two.
    assert threads == [2] + [1] * (len(threads) - 1)
