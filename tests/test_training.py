"""The assignment's debugging checklist on real MNIST, and a short real run.

- initial loss ~ ln 10 (the network starts out guessing),
- a tiny training set can be overfit to 100 %,
- the loss goes down, and a few epochs reach >= 95 % test accuracy,
- same seed, same results.
"""
import json
import os
import subprocess
import sys

import numpy as np

from conftest import ROOT
from model import MLP
from optim import SCHEDULES, SGD
from train import fit


def test_initial_loss_near_ln10(mnist):
    (X, y), _, _ = mnist
    losses = [MLP(seed=s).loss(X[:2000], y[:2000])[0] for s in range(3)]
    # Uniform guessing over 10 classes costs ln 10 = 2.303. He init gives
    # logits of std ~0.5-1, so the softmax is not quite uniform: a bit above.
    for loss in losses:
        assert abs(loss - np.log(10)) < 0.3, losses


def test_overfits_ten_examples(mnist):
    (X, y), _, _ = mnist
    X10, y10 = X[:10], y[:10]
    model = MLP(seed=0)
    history = fit(model, SGD(lr=0.05, momentum=0.9), (X10, y10), (X10[:0], y10[:0]),
                  epochs=100, batch_size=10, log=lambda line: None)
    assert model.accuracy(X10, y10) == 1.0
    assert history["loss"][-1] < 0.01 < history["loss"][0]


def test_short_real_run_reaches_95_percent(mnist):
    train, val, test = mnist
    model = MLP(seed=0)
    history = fit(model, SGD(lr=0.05, momentum=0.9), train, val, epochs=2,
                  batch_size=64, schedule=SCHEDULES["cosine"], log=lambda line: None)
    assert history["loss"][1] < history["loss"][0]          # the loss decreases
    assert history["val_accuracy"][-1] >= 0.95
    assert model.accuracy(*test) >= 0.95


def test_fit_history_is_consistent(mnist):
    (X, y), (Xv, yv), _ = mnist
    model = MLP(seed=0)
    history = fit(model, SGD(lr=0.01, momentum=0.9), (X[:1000], y[:1000]), (Xv[:500], yv[:500]),
                  epochs=2, batch_size=64, log=lambda line: None)
    assert len(history["iteration_loss"]) == 2 * 16     # ceil(1000 / 64) steps per epoch
    assert history["val_accuracy"][-1] == model.accuracy(Xv[:500], yv[:500])
    assert len(history["dead_relu"][-1]) == 2


def run_train(out, *flags):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    return subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), "--out", str(out),
                           "--epochs", "1", "--val-size", "55000", *flags],
                          capture_output=True, text=True, env=env, check=True)


def without_timings(results):
    results = dict(results, history=dict(results["history"]))
    for key in ("seconds_per_epoch", "train_seconds"):
        results.pop(key)
    results["history"].pop("seconds")
    return results


def test_same_seed_same_results(tmp_path, mnist_path):
    """Two runs of train.py with one seed agree in every figure; another seed differs."""
    runs = {}
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        proc = run_train(tmp_path / name, "--data", mnist_path, "--seed", seed, "--dropout", "0.2")
        assert "Test accuracy:" in proc.stdout
        with open(tmp_path / name / "results.json") as f:
            runs[name] = without_timings(json.load(f))
    assert runs["a"] == runs["b"]
    assert runs["a"]["test_accuracy"] != runs["c"]["test_accuracy"]
    a, b = (np.load(tmp_path / n / "model.npz") for n in "ab")
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key])
    assert (tmp_path / "a" / "loss_curve.png").stat().st_size > 10_000


def test_results_json_fields(tmp_path, mnist_path):
    run_train(tmp_path, "--data", mnist_path, "--optimizer", "adam", "--lr", "1e-3")
    with open(tmp_path / "results.json") as f:
        results = json.load(f)
    for key in ("test_accuracy", "val_accuracy", "train_loss", "epochs", "seconds_per_epoch",
                "train_seconds", "hyperparameters", "seed", "history"):
        assert key in results
    assert results["hyperparameters"]["optimizer"] == "adam"
    assert results["epochs"] == 1
    assert 0.5 < results["test_accuracy"] <= 1    # far above chance after 5,000 images
    assert MLP.load(tmp_path / "model.npz").sizes == (784, 128, 64, 10)
