"""Numerics of the model, dropout, He initialisation, saved files' permissions.

Softmax/cross-entropy at extreme logits, save/load round trips and files of
the wrong shapes are tested once, in test_reliability.py."""
import numpy as np
import pytest

from layers import dropout_forward
from model import MLP


def test_model_loss_finite_for_huge_weights():
    model = MLP((4, 3, 2), dtype=np.float32)
    model.params["W2"][:] = [[1e4, -1e4]] * 3
    X = np.ones((2, 4), np.float32)
    loss, grads = model.loss(X, np.array([0, 1]))
    assert np.isfinite(loss)
    assert all(np.all(np.isfinite(g)) for g in grads.values())


def test_inverted_dropout_keeps_the_expected_activation():
    h = np.full((2000, 50), 3.0)
    out, mask = dropout_forward(h, 0.4, np.random.default_rng(0))
    assert out.mean() == pytest.approx(3.0, rel=0.02)           # expectation kept
    assert np.mean(out == 0) == pytest.approx(0.4, abs=0.02)    # the right fraction dropped
    assert set(np.unique(out)) == {0.0, 3.0 / 0.6}              # survivors scaled by 1/(1-p)


def test_dropout_only_when_training():
    model = MLP((20, 30, 5), dropout=0.5, seed=0)
    X = np.random.default_rng(0).random((8, 20), dtype=np.float32)
    evals = [model.forward(X)[0] for _ in range(2)]
    np.testing.assert_array_equal(evals[0], evals[1])
    trains = [model.forward(X, train=True)[0] for _ in range(2)]
    assert not np.allclose(trains[0], trains[1])
    assert not np.allclose(trains[0], evals[0])


def test_he_initialisation():
    model = MLP((784, 512, 10), seed=0)
    assert model.params["W1"].shape == (784, 512)
    assert model.params["W1"].dtype == np.float32
    # The sample std of n normal draws errs by 1 / sqrt(2 n) (relative) per
    # standard error: five of them allowed (0.6 % for W1, 4.9 % for W2).
    for W, fan_in in ((model.params["W1"], 784), (model.params["W2"], 512)):
        assert W.std() == pytest.approx(np.sqrt(2 / fan_in), rel=5 / np.sqrt(2 * W.size))
    assert not model.params["b1"].any()


def test_saved_files_get_the_usual_permissions(tmp_path):
    """Atomic writes go through mkstemp, whose files are private (0600) unless fixed."""
    import os
    umask = os.umask(0o022)
    try:
        MLP((4, 3, 2)).save(tmp_path / "m.npz")
    finally:
        os.umask(umask)
    assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o644


def test_inference_leaves_nothing_on_the_model_and_runs_in_threads():
    """forward(train=False) changes no attribute of the model (callers use what it
    returns), so the drawing page's threads can share one model."""
    import threading
    model = MLP((6, 5, 4, 3), dropout=0.5, seed=0, batchnorm=True)
    X = np.random.default_rng(0).random((40, 6), dtype=np.float32)
    before = {name: (id(value), repr(value)) for name, value in vars(model).items()}
    expected = [model.forward(X[i:i + 1])[1].hidden for i in range(len(X))]
    assert {name: (id(value), repr(value)) for name, value in vars(model).items()} == before
    results = [None] * len(X)

    def read(i):
        for _ in range(50):
            probs, cache = model.forward(X[i:i + 1])
            results[i] = cache.hidden
    threads = [threading.Thread(target=read, args=(i,)) for i in range(len(X))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for got, want in zip(results, expected):
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
