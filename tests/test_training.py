"""The assignment's debugging checklist on real MNIST, and a short real run.

- initial loss ~ ln 10 (the network starts out guessing),
- a tiny training set can be overfit to 100 %,
- the loss goes down, and a few epochs reach >= 95 % test accuracy.

Same seed, same results: test_reliability.py (byte-identical results.json) and
test_training_loop.py (each seeded part on its own).
"""
import numpy as np

from model import MLP, dead_fraction
from optim import SGD
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


def test_short_real_run_reaches_95_percent(trained_run):
    """The shared real run (conftest: train.py --epochs 3): the loss falls every
    epoch, and validation and test accuracy reach 95 %."""
    results = trained_run.results
    losses = results["history"]["loss"]
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    assert results["val_accuracy"] >= 0.95
    assert results["test_accuracy"] >= 0.95


def test_fit_history_is_consistent(mnist):
    (X, y), (Xv, yv), _ = mnist
    model = MLP(seed=0)
    history = fit(model, SGD(lr=0.01, momentum=0.9), (X[:1000], y[:1000]), (Xv[:500], yv[:500]),
                  epochs=2, batch_size=64, log=lambda line: None)
    assert len(history["iteration_loss"]) == 2 * 16     # ceil(1000 / 64) steps per epoch
    assert history["val_accuracy"][-1] == model.accuracy(Xv[:500], yv[:500])
    # The dead units of an epoch are the validation set's, for the final weights.
    assert history["dead_relu"][-1] == dead_fraction(model.forward(Xv[:500])[1].hidden)
    assert len(history["dead_relu"][-1]) == 2
