"""Rule: the test set never influences a choice.

Every script that chooses something is run twice, once as it is and once with
the test set scrambled (labels permuted, or images replaced by noise); every
choice and every figure that is not a test figure must come out the same. Only
the figures named for the test set may move.

Paths covered (each chooser of the project, on small synthetic data in-process):
  classifiers/compare.py run_knn       k by cross-validation, the validation
                                       accuracy of every k, the CV table
  classifiers/compare.py run_linear    the SVM's and the softmax classifier's
                                       learning rate and regularisation, the
                                       whole grid's training and validation
                                       figures, the chosen weights
  experiments/tune.py main             trials.csv (every trial's figures), the
                                       winner and its retrained validation figure
                                       in best.txt
"""
import argparse
import csv

import numpy as np
import pytest

from classifiers import compare
from conftest import quadrant_images
from experiments import tune

# Figures that may depend on the test set: named for it, or wall-clock times.
MAY_MOVE = ("test", "seconds")


def figures(value, leave_out=MAY_MOVE):
    """``value`` (nested dicts, lists, arrays) with every key containing a word
    of ``leave_out`` left out, arrays as lists. By default: what must not change
    with the test set."""
    if isinstance(value, dict):
        return {k: figures(v, leave_out) for k, v in value.items()
                if not any(word in k for word in leave_out)}
    if isinstance(value, (list, tuple)):
        return [figures(v, leave_out) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def flat(x, y):
    return x.reshape(len(x), -1).astype(np.float32) / 255, y.astype(np.int64)


@pytest.fixture(scope="module")
def split():
    """(train, val, test) of flattened quadrant images, a quarter of the training
    labels flipped at random so that the choices matter (k = 1 copies the noise)."""
    rng = np.random.default_rng(7)
    train, val, test = (flat(*quadrant_images(rng, n)) for n in (600, 200, 200))
    noisy = rng.random(600) < 0.25
    train[1][noisy] = rng.integers(0, 4, noisy.sum())
    return train, val, test


def scrambled(test, how, seed):
    X, y = test
    rng = np.random.default_rng(seed)
    if how == "labels":
        return X, rng.permutation(y)
    return rng.random(X.shape, dtype=np.float32), y


def run_compare(stage, split, test):
    train, val, _ = split
    args = argparse.Namespace(quick=True, cv_size=1000, iters=60, seed=0)
    return stage(train, val, test, args, say=lambda line: None)


@pytest.mark.parametrize("stage", [compare.run_knn, compare.run_linear],
                         ids=["knn", "linear"])
@pytest.mark.parametrize("how", ["labels", "images"])
def test_compare_chooses_without_the_test_set(split, stage, how):
    as_is = run_compare(stage, split, split[2])
    # The distance timing's disagreement is measured on a few test images: a test figure.
    leave_out = MAY_MOVE + (("distance_disagreement",) if how == "images" else ())
    moved = False
    for seed in range(3):  # several scrambles: a choice made on test would follow one of them
        other = run_compare(stage, split, scrambled(split[2], how, seed))
        assert figures(other, leave_out) == figures(as_is, leave_out)
        moved |= figures(other, ("seconds",)) != figures(as_is, ("seconds",))
    assert moved  # the scrambled test set did reach the script


def read_trials(path):
    """trials.csv as {trial: its figures but the time}; rows come in the order
    the workers finish them."""
    with open(path, newline="") as f:
        return {tune.trial_key(row): {k: v for k, v in row.items() if k != "seconds"}
                for row in csv.DictReader(f)}


def run_tune(data, out):
    tune.main(["--data", str(data), "--out", str(out), "--val-size", "200", "--epochs", "1",
               "--workers", "2", "--hidden", "8", "16", "--lr", "1e-3", "1e-2", "--reg", "0"])
    lines = (out / "best.txt").read_text().splitlines()
    return read_trials(out / "trials.csv"), lines


def test_tune_chooses_without_the_test_set(quadrants, tmp_path, capsys):
    """conftest's quadrants (whose test labels are all wrong), and the same with
    the test labels permuted: the same trials, figures, winner and retrained
    validation figure; only test_accuracy in best.txt may differ."""
    with np.load(quadrants) as f:
        arrays = dict(f)
    arrays["y_test"] = np.random.default_rng(0).permutation(arrays["x_test"].shape[0]) % 4
    arrays["y_test"] = arrays["y_test"].astype(np.uint8)
    np.savez(tmp_path / "scrambled.npz", **arrays)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    trials_a, best_a = run_tune(quadrants, tmp_path / "a")
    trials_b, best_b = run_tune(tmp_path / "scrambled.npz", tmp_path / "b")
    capsys.readouterr()
    assert trials_a == trials_b

    def split_test(lines):
        """best.txt's lines with the test figure cut out, and the test figure."""
        retrained = next(line for line in lines if "test_accuracy" in line)
        head, test = retrained.split("test_accuracy")
        return [head if line == retrained else line for line in lines], float(test)

    (kept_a, test_a), (kept_b, test_b) = split_test(best_a), split_test(best_b)
    assert kept_a == kept_b
    assert test_a != test_b  # the scrambled test set did reach the script
