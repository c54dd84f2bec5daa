"""classifiers/: kNN's three distance implementations and its vote, the SVM and
softmax losses (naive against vectorised, both against numerical gradients),
their numerics, and a short real run of the linear classifiers."""
import numpy as np
import pytest

import classifiers.knn
from classifiers import KNearestNeighbor, LinearSVM, Softmax
from classifiers.linear import (softmax_loss_naive, softmax_loss_vectorized, svm_loss_naive,
                                svm_loss_vectorized)
from gradient_check import numerical_gradient, relative_error

LOSSES = {"svm": (svm_loss_naive, svm_loss_vectorized),
          "softmax": (softmax_loss_naive, softmax_loss_vectorized)}


# ---- kNN ---------------------------------------------------------------------
@pytest.fixture
def knn_data(rng):
    """Image-like data, float32 in [0, 1): 40 training rows of 784 values; 13 test
    rows, the first 8 of them copies of training rows (distance 0, where
    rounding in |a|^2 + |b|^2 - 2 a.b goes slightly negative about half the time)."""
    X_train = rng.random((40, 784), dtype=np.float32)
    X_test = np.vstack([X_train[:8], rng.random((5, 784), dtype=np.float32)])
    return X_train, rng.integers(0, 10, 40), X_test


def test_three_distance_methods_agree(knn_data, monkeypatch):
    X_train, y_train, X_test = knn_data
    knn = KNearestNeighbor()
    knn.train(X_train, y_train)
    # Blocks of 5 rows, so that 13 test rows end in a short block.
    monkeypatch.setattr(classifiers.knn, "BLOCK_ROWS", 5)
    two = knn.compute_distances_two_loops(X_test)
    one = knn.compute_distances_one_loop(X_test)
    none = knn.compute_distances_no_loops(X_test)
    assert two.shape == one.shape == none.shape == (13, 40)
    # The definition, in float64, is the reference for all three.
    exact = np.sqrt(((X_test[:, None, :].astype(np.float64) - X_train[None]) ** 2).sum(-1))
    apart = exact > 1
    for dists in (two, one, none):
        np.testing.assert_allclose(dists[apart], exact[apart], rtol=1e-3)
    # The duplicates: 0 by the definition; the expansion in float32 loses
    # about sqrt(1e-7 * |a|^2) ~ 0.01 there, but must never give NaN.
    assert np.all(np.isfinite(none)) and np.all(none >= 0)
    assert np.diag(none[:8]).max() < 0.05 and np.diag(two[:8]).max() == 0


def test_predict_labels_votes_and_breaks_ties_to_the_smaller_label():
    knn = KNearestNeighbor()
    knn.train(np.zeros((6, 2)), np.array([4, 1, 1, 4, 7, 2]))
    dists = np.array([
        # neighbours by distance: label 4 (0.1), 1 (0.2), 1 (0.3), 4 (0.4), 7, 2
        [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
        # neighbours by distance: label 2 (0.1), 7 (0.2), 4 (0.3), 1 (0.4), 1, 4
        [0.3, 0.4, 0.5, 0.6, 0.2, 0.1],
    ])
    np.testing.assert_array_equal(knn.predict_labels(dists, k=1), [4, 2])
    # k = 3: 1 has two votes against 4's one; the second row is a three-way tie
    # (2, 7, 4 once each): the smallest label, 2, wins.
    np.testing.assert_array_equal(knn.predict_labels(dists, k=3), [1, 2])
    # k = 4: a two-way tie 4 vs 1 goes to 1; second row: 2, 7, 4, 1 once each: 1.
    np.testing.assert_array_equal(knn.predict_labels(dists, k=4), [1, 1])
    with pytest.raises(ValueError, match="k must be"):
        knn.predict_labels(dists, k=7)


def test_predict_is_the_same_with_every_distance_method(knn_data, monkeypatch):
    X_train, y_train, X_test = knn_data
    monkeypatch.setattr(classifiers.knn, "BLOCK_ROWS", 4)  # predict goes block by block
    knn = KNearestNeighbor()
    knn.train(X_train, y_train)
    for k in (1, 3, 5):
        expected = knn.predict_labels(knn.compute_distances_two_loops(X_test), k)
        for num_loops in (0, 1, 2):
            np.testing.assert_array_equal(knn.predict(X_test, k, num_loops), expected)
    np.testing.assert_array_equal(knn.predict(X_test)[:8], y_train[:8])  # k = 1: the copies


# ---- the linear losses --------------------------------------------------------
def linear_problem(rng, N=30, D=12, C=10, dtype=np.float64):
    """Small random W (D, C), X (N, D) with a bias column, y (N,), as the
    linear classifiers see them."""
    X = np.hstack([rng.standard_normal((N, D - 1)), np.ones((N, 1))]).astype(dtype)
    W = (0.5 * rng.standard_normal((D, C))).astype(dtype)
    return W, X, rng.integers(0, C, N)


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("reg", [0.0, 0.1])
def test_vectorized_loss_equals_naive(name, reg, rng):
    naive, vectorized = LOSSES[name]
    W, X, y = linear_problem(rng)
    loss_naive, dW_naive = naive(W, X, y, reg)
    loss_vec, dW_vec = vectorized(W, X, y, reg)
    assert loss_naive > 0
    np.testing.assert_allclose(loss_vec, loss_naive, rtol=1e-12)
    np.testing.assert_allclose(dW_vec, dW_naive, rtol=1e-10, atol=1e-12)


def hinge_distance(W, X, y):
    """The smallest |s_j - s_y + 1| over all examples and wrong classes: how far
    the nearest margin is from the hinge's kink, where the SVM loss has no gradient."""
    scores = X @ W
    margins = scores - scores[np.arange(len(y)), y][:, None] + 1
    margins[np.arange(len(y)), y] = np.inf
    return np.abs(margins).min()


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("implementation", [0, 1])
def test_gradient_matches_numerical_gradient(name, implementation, rng):
    loss_fn = LOSSES[name][implementation]
    W, X, y = linear_problem(rng)
    h = 1e-5
    # A step of h in one weight moves a score, and so a margin, by at most
    # h * max|X|: a margin closer than that to the kink would let the central
    # difference straddle it (the SVM loss has no derivative there).
    assert hinge_distance(W, X, y) > 2 * h * np.abs(X).max()
    for reg in (0.0, 0.05):
        _, dW = loss_fn(W, X, y, reg)
        numerical = numerical_gradient(lambda: loss_fn(W, X, y, reg)[0], W, h=h)
        assert relative_error(dW, numerical) < 1e-7


@pytest.mark.parametrize("name", LOSSES)
def test_losses_in_float32_stay_float32(name, rng):
    for loss_fn in LOSSES[name]:
        W, X, y = linear_problem(rng, dtype=np.float32)
        loss, dW = loss_fn(W, X, y, 1e-3)
        assert dW.dtype == np.float32 and np.isfinite(loss)


def test_softmax_loss_is_finite_for_huge_scores(rng):
    W, X, y = linear_problem(rng, N=8)
    X = X * 0
    X[:, -1] = 1                                          # scores = the bias row of W
    W[-1] = np.array([1e4, -1e4] * 5)                     # scores of +-1e4
    y = np.array([0, 1, 2, 3, 0, 1, 2, 3])
    for loss_fn in LOSSES["softmax"]:
        loss, dW = loss_fn(W, X, y, 0.0)
        assert np.isfinite(loss) and np.all(np.isfinite(dW))
        # The five even classes score 1e4 and share the probability: -log(1/5) for
        # the examples of class 0 or 2; 1 and 3 score -1e4: -log(e^-2e4 / 5).
        np.testing.assert_allclose(loss, np.mean([np.log(5), 2e4 + np.log(5)] * 4), rtol=1e-12)


def test_loss_at_zero_weights(rng):
    W, X, y = linear_problem(rng)
    W = np.zeros_like(W)
    for loss_fn in LOSSES["softmax"]:
        # All scores 0: the softmax is uniform, each example costs -log(1/10).
        assert loss_fn(W, X, y, 1.0)[0] == pytest.approx(np.log(10), rel=1e-12)
    for loss_fn in LOSSES["svm"]:
        # All scores 0: each of the 9 wrong classes has margin 0 - 0 + 1 = 1.
        assert loss_fn(W, X, y, 1.0)[0] == pytest.approx(9, rel=1e-12)


# ---- training ----------------------------------------------------------------
def test_same_seed_same_model(rng):
    W, X, y = linear_problem(rng, N=200, dtype=np.float32)
    runs = [Softmax(seed=s).train(X, y, learning_rate=0.1, reg=1e-3, num_iters=30,
                                  batch_size=20) for s in (3, 3, 4)]
    assert runs[0] == runs[1] != runs[2]
    assert len(runs[0]) == 30


@pytest.fixture(scope="module")
def linear_features(mnist):
    """The real training and test sets as classifiers/compare.py gives them to the linear
    classifiers: centred on the training mean image, plus a column of ones."""
    from classifiers.compare import features
    (X, y), _, (X_test, y_test) = mnist
    mean = X.mean(axis=0)
    return (features(X, mean), y), (features(X_test, mean), y_test)


@pytest.mark.parametrize("cls", [LinearSVM, Softmax])
def test_short_real_run(cls, linear_features):
    """Two epochs' worth of SGD on real MNIST (500 batches of 200): a linear
    classifier is already >= 88 % on the test set, near its ceiling (~92 %)."""
    (X, y), (X_test, y_test) = linear_features
    model = cls(seed=0)
    history = model.train(X, y, learning_rate=0.1, reg=1e-5, num_iters=500, batch_size=200)
    assert model.W.dtype == np.float32
    assert np.mean(history[-50:]) < 0.5 * history[0]        # the loss falls
    assert np.mean(model.predict(X_test) == y_test) >= 0.88
