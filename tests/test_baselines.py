"""classifiers/compare.py: cross-validation that cannot peek, the MLP's row from train.py's
files (or a note that they are missing), one-line errors, and a --quick run of
the whole script as a user runs it."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from classifiers import compare as baselines
from classifiers import KNearestNeighbor
from conftest import ROOT
from model import MLP

PICTURES = ("knn_cv.png", "linear_loss.png", "linear_search.png", "templates.png")


def test_cross_validation_never_tests_on_its_training_data(rng):
    # Random images with random labels: nothing to learn, so every k must be
    # near chance (10 %). A fold that also sat in the training set would give
    # k = 1 (each image finds itself) 100 %.
    X = rng.random((500, 20), dtype=np.float32)
    y = rng.integers(0, 10, 500)
    accuracies = baselines.cross_validate_k(X, y, ks=(1, 3, 10), folds=5)
    assert accuracies.shape == (3, 5)
    assert accuracies.max() < 0.25


def test_cross_validation_on_separable_data_is_right(rng):
    # Two tight clusters far apart: every fold, every k up to the cluster size: 100 %.
    X = np.vstack([rng.normal(0, 0.1, (50, 5)), rng.normal(10, 0.1, (50, 5))])
    y = np.repeat([3, 7], 50)
    order = rng.permutation(100)
    np.testing.assert_array_equal(
        baselines.cross_validate_k(X[order], y[order], ks=(1, 5, 15), folds=5), 1.0)


class ScriptedClassifier:
    """A stand-in for LinearSVM/Softmax whose accuracy is scripted: perfect on the
    training images (all 0) only at learning rate 0.3, on the validation images
    (all 1) only at 0.1, wrong otherwise."""

    def __init__(self, seed=0):
        self.lr = None

    def train(self, X, y, learning_rate, reg, num_iters, batch_size):
        self.lr = learning_rate
        return [1.0] * num_iters

    def predict(self, X):
        right = self.lr == (0.1 if X[0, 0] == 1 else 0.3)
        return np.zeros(len(X), dtype=np.int64) + (0 if right else 1)


def test_linear_search_selects_on_validation_not_training():
    train = (np.zeros((8, 3), np.float32), np.zeros(8, dtype=np.int64))
    val = (np.ones((4, 3), np.float32), np.zeros(4, dtype=np.int64))
    model, best, trials = baselines.search_linear(ScriptedClassifier, train, val,
                                                  (0.03, 0.1, 0.3), (1e-5, 1e-4), 7, 0)
    assert len(trials) == 6 and len(best["loss_history"]) == 7
    assert (best["learning_rate"], best["reg"], model.lr) == (0.1, 1e-5, 0.1)
    assert (best["val_accuracy"], best["train_accuracy"]) == (1.0, 0.0)


# ---- the MLP's row ------------------------------------------------------------
@pytest.fixture
def tiny_test_set(rng):
    return rng.random((30, 784), dtype=np.float32), rng.integers(0, 10, 30)


def test_mlp_row_from_train_py_files(tmp_path, tiny_test_set):
    model = MLP((784, 16, 10), seed=0)
    model.save(tmp_path / "model.npz")
    (tmp_path / "results.json").write_text(json.dumps(
        {"val_accuracy": 0.5, "test_accuracy": 0.25, "train_seconds": 7.5,
         "sizes": [784, 16, 10], "history": {}}))
    row = baselines.mlp_row(str(tmp_path / "results.json"), str(tmp_path / "model.npz"),
                            tiny_test_set)
    assert (row["val_accuracy"], row["test_accuracy"], row["train_seconds"]) == (0.5, 0.25, 7.5)
    assert row["model_test_accuracy"] == model.accuracy(*tiny_test_set)
    assert 0 < row["predict_seconds"] < 1 and row["missing"] == []
    table = baselines.markdown_table([baselines.comparison_rows(
        *fake_runs(), row, 10000)[-1]])
    assert "| MLP 784-16-10 (train.py) | 50.00 % | 25.00 % | 7.5 s |" in table


def test_mlp_row_says_what_is_missing(tmp_path, tiny_test_set):
    (tmp_path / "results.json").write_text("{not json")
    row = baselines.mlp_row(str(tmp_path / "results.json"), str(tmp_path / "none.npz"),
                            tiny_test_set)
    assert len(row["missing"]) == 2
    assert "results.json is not a results.json from train.py" in row["missing"][0]
    assert "none.npz" in row["missing"][1] and "\n" not in row["missing"][1]
    row = baselines.mlp_row(str(tmp_path / "nothing.json"), str(tmp_path / "none.npz"),
                            tiny_test_set)
    assert "no " in row["missing"][0] and "python train.py" in row["missing"][0]
    mlp_line = baselines.comparison_rows(*fake_runs(), row, 10000)[-1]
    assert mlp_line[1:] == ("-", "-", "-", "-")


def fake_runs():
    knn = {"k": 3, "val_accuracy": 0.97, "test_accuracy": 0.96, "train_seconds": 0.0,
           "predict_seconds": 8.0}
    linear = {name: {"learning_rate": 0.1, "reg": 1e-4, "val_accuracy": 0.9,
                     "test_accuracy": 0.9, "train_seconds": 3.0, "predict_seconds": 0.003}
              for name in ("svm", "softmax")}
    return knn, linear


# ---- bad input ------------------------------------------------------------------
@pytest.mark.parametrize("flag", ["--out", "--assets"])
def test_unwritable_folder_is_one_line_before_any_work(tmp_path, flag):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as e:
        baselines.main(["--data", str(tmp_path / "no_data.npz"), flag, str(blocker / "x"),
                        "--out" if flag == "--assets" else "--assets", str(tmp_path)])
    assert e.value.code.startswith(f"error: {flag} {blocker / 'x'}: cannot write there")


def test_missing_data_is_one_line(tmp_path):
    with pytest.raises(SystemExit) as e:
        baselines.main(["--data", str(tmp_path / "no_data.npz"), "--out", str(tmp_path),
                        "--assets", str(tmp_path)])
    assert e.value.code == f"error: {tmp_path / 'no_data.npz'}: no such file or folder"
    assert sorted(os.listdir(tmp_path)) == []


# ---- the whole script (slow: kNN and 8 linear classifiers on 5,000 MNIST images) ----------
@pytest.fixture(scope="module")
def quick_run(mnist, tmp_path_factory):
    """python -m classifiers.compare --quick, as a user runs it, on a keras-layout .npz that
    holds exactly the images --quick uses (the first 5,000 training images, the
    10,000 validation images, the first 1,000 test images: the same split and
    the same run as on all of MNIST, from a file 4x smaller)."""
    folder = tmp_path_factory.mktemp("baselines")
    (X, y), (X_val, y_val), (X_test, y_test) = mnist

    def images(A):
        return np.round(A * 255).astype(np.uint8).reshape(len(A), 28, 28)

    np.savez(folder / "mnist.npz", x_train=images(np.vstack([X[:5000], X_val])),
             y_train=np.concatenate([y[:5000], y_val]), x_test=images(X_test[:1000]),
             y_test=y_test[:1000])
    result = subprocess.run(
        [sys.executable, "-m", "classifiers.compare", "--quick",
         "--data", str(folder / "mnist.npz"), "--out", str(folder / "docs"),
         "--assets", str(folder / "assets"), "--results", str(folder / "no_results.json"),
         "--model", str(folder / "no_model.npz")],
        capture_output=True, text=True, timeout=120, cwd=folder,
        env={**os.environ, "PYTHONPATH": ROOT})
    assert result.returncode == 0, result.stderr
    with open(folder / "docs" / "classifiers.json") as f:
        summary = json.load(f)
    return folder, summary, result.stdout


@pytest.mark.slow
def test_quick_run_writes_the_table_and_pictures(quick_run):
    folder, summary, stdout = quick_run
    for name in PICTURES:
        with Image.open(folder / "assets" / name) as image:
            assert image.format == "PNG" and min(image.size) > 200
    report = (folder / "docs" / "classifiers.md").read_text()
    for text in (report, stdout):
        assert "| method | validation accuracy | test accuracy | time to train |" in text
        assert "| k-nearest neighbours, k = " in text and "| softmax classifier (lr " in text
    # train.py's files are missing here: the MLP row says so instead of crashing.
    assert "| MLP 784-128-64-10 (train.py) | - | - | - | - |" in report
    assert "no_results.json" in report and "no_model.npz" in report
    assert (summary["train_size"], summary["val_size"], summary["test_size"]) == (5000, 1000, 1000)


@pytest.mark.slow
def test_quick_run_scores_knn_on_the_right_images(quick_run, mnist):
    # The same kNN, recomputed here on the images --quick should use: the
    # first 5,000 training images, the first 1,000 validation and test images.
    _, summary, _ = quick_run
    (X, y), (X_val, y_val), (X_test, y_test) = mnist
    knn = KNearestNeighbor()
    knn.train(X[:5000], y[:5000])
    k = summary["knn"]["k"]
    for name, X_eval, y_eval in (("val", X_val, y_val), ("test", X_test, y_test)):
        expected = np.mean(knn.predict(X_eval[:1000], k) == y_eval[:1000])
        assert summary["knn"][f"{name}_accuracy"] == expected


@pytest.mark.slow
def test_quick_run_figures_are_sensible(quick_run):
    _, summary, _ = quick_run
    knn, linear = summary["knn"], summary["linear"]
    cv = np.array(knn["cv_accuracy"])
    assert cv.shape == (len(baselines.KS), baselines.FOLDS)
    assert knn["k"] == knn["ks"][int(np.argmax(cv.mean(axis=1)))]
    # 5,000 training images are plenty for kNN and a linear model to be far
    # above chance (10 %); the three distance methods agree.
    assert knn["test_accuracy"] > 0.88 and knn["val_accuracy"] > 0.88
    assert max(knn["distance_disagreement"].values()) < 1e-3
    for run in linear.values():
        assert run["test_accuracy"] > 0.8
        assert run["val_accuracy"] == max(t["val_accuracy"] for t in run["grid"])
        assert len(run["grid"]) == 4
