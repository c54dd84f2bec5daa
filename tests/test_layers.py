"""Softmax/cross-entropy numerics, dropout, He initialisation, save/load."""
import numpy as np
import pytest

from layers import cross_entropy, dropout_forward, softmax_forward
from model import MLP


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_cross_entropy_finite_at_extreme_logits(dtype):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [0.0, 1e4, 1e4]], dtype=dtype)
    probs, cache = softmax_forward(logits)
    assert np.all(np.isfinite(probs))
    np.testing.assert_allclose(probs.sum(axis=1), 1, rtol=1e-6)
    np.testing.assert_allclose(probs[0], [1, 0, 0])
    np.testing.assert_allclose(probs[1], [1 / 3] * 3, rtol=1e-6)
    # Confidently right: loss 0; confidently wrong by 2e4: loss 2e4, not inf.
    assert cross_entropy(cache, np.array([0, 0, 1])) == pytest.approx((0 + np.log(3) + np.log(2)) / 3, rel=1e-5)
    assert cross_entropy(cache, np.array([1, 0, 0])) == pytest.approx((2e4 + np.log(3) + 1e4 + np.log(2)) / 3, rel=1e-5)


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
    evals = [model.forward(X) for _ in range(2)]
    np.testing.assert_array_equal(evals[0], evals[1])
    trains = [model.forward(X, train=True) for _ in range(2)]
    assert not np.allclose(trains[0], trains[1])
    assert not np.allclose(trains[0], evals[0])


def test_he_initialisation():
    model = MLP((784, 512, 10), seed=0)
    assert model.params["W1"].shape == (784, 512)
    assert model.params["W1"].dtype == np.float32
    assert model.params["W1"].std() == pytest.approx(np.sqrt(2 / 784), rel=0.02)
    assert model.params["W2"].std() == pytest.approx(np.sqrt(2 / 512), rel=0.05)
    assert not model.params["b1"].any()


def test_save_load_round_trip(tmp_path):
    model = MLP((10, 6, 3), l2=0.01, dropout=0.2, seed=4)
    model.save(tmp_path / "m.npz")
    loaded = MLP.load(tmp_path / "m.npz")
    assert loaded.sizes == (10, 6, 3)
    assert (loaded.l2, loaded.dropout) == (0.01, 0.2)
    for name, value in model.params.items():
        np.testing.assert_array_equal(loaded.params[name], value)


def test_load_rejects_wrong_shapes(tmp_path):
    model = MLP((10, 6, 3))
    model.params["W2"] = np.zeros((5, 3), np.float32)  # no longer matches sizes
    np.savez(tmp_path / "bad.npz", sizes=np.array([10, 6, 3]), l2=0.0, dropout=0.0, **model.params)
    with pytest.raises(ValueError, match="bad.npz.*W2"):
        MLP.load(tmp_path / "bad.npz")


def test_saved_files_get_the_usual_permissions(tmp_path):
    """Atomic writes go through mkstemp, whose files are private (0600) unless fixed."""
    import os
    umask = os.umask(0o022)
    try:
        MLP((4, 3, 2)).save(tmp_path / "m.npz")
    finally:
        os.umask(umask)
    assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o644
