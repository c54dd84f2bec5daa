"""The assignment's first debugging step: backward() must equal the true gradient.

Checked two ways, in float64: against central differences, and against
TensorFlow's automatic differentiation of the same network on the same batch.
"""
import numpy as np
import pytest

from gradient_check import numerical_gradient, relative_error
from model import MLP


def small_model(**kwargs):
    # Small enough for a numerical gradient of every weight; same code path as 784-128-64-10.
    return MLP((12, 7, 5, 4), dtype=np.float64, seed=3, **kwargs)


def batch(rng, n=6, d=12, classes=4):
    return rng.standard_normal((n, d)), rng.integers(0, classes, n)


def check_all_params(model, X, y, train=False, seed_dropout=None):
    """Relative error between backward() and central differences, per parameter."""
    def loss_only():
        if seed_dropout is not None:  # the same dropout mask on every evaluation
            model.rng = np.random.default_rng(seed_dropout)
        _, cache = model.forward(X, train=train)
        return model.data_loss(y, cache) + model.l2_penalty()

    if seed_dropout is not None:
        model.rng = np.random.default_rng(seed_dropout)
    _, grads = model.loss(X, y, train=train)
    return {name: relative_error(grads[name], numerical_gradient(loss_only, p))
            for name, p in model.params.items()}


def test_gradients_match_numerical(rng):
    model = small_model()
    X, y = batch(rng)
    errors = check_all_params(model, X, y)
    assert set(errors) == {"W1", "b1", "W2", "b2", "W3", "b3"}
    assert max(errors.values()) < 1e-5, errors


def test_gradients_with_l2(rng):
    model = small_model(l2=0.1)
    X, y = batch(rng)
    errors = check_all_params(model, X, y)
    assert max(errors.values()) < 1e-5, errors


def test_gradients_with_dropout_fixed_mask(rng):
    model = small_model(dropout=0.3)
    X, y = batch(rng)
    errors = check_all_params(model, X, y, train=True, seed_dropout=7)
    assert max(errors.values()) < 1e-5, errors


@pytest.mark.parametrize("sizes", [(12, 4), (12, 9, 8, 7, 4)])
def test_gradients_any_depth(rng, sizes):
    model = MLP(sizes, dtype=np.float64, seed=1)
    X, y = batch(rng)
    errors = check_all_params(model, X, y)
    assert max(errors.values()) < 1e-5, errors


@pytest.mark.slow  # importing TensorFlow takes seconds
def test_backward_matches_tensorflow_autodiff(rng):
    """The same weights and batch through tf.GradientTape: TF differentiates
    softmax cross-entropy of the same network automatically."""
    tf = pytest.importorskip("tensorflow", reason="tensorflow is in requirements.txt")
    model = MLP((784, 128, 64, 10), dtype=np.float64, seed=5, l2=1e-3)
    X = rng.random((32, 784))
    y = rng.integers(0, 10, 32)
    loss, grads = model.loss(X, y)

    weights = {k: tf.Variable(v) for k, v in model.params.items()}
    with tf.GradientTape() as tape:
        h = tf.constant(X)
        for i in (1, 2):
            h = tf.nn.relu(h @ weights[f"W{i}"] + weights[f"b{i}"])
        logits = h @ weights["W3"] + weights["b3"]
        ce = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
        tf_loss = ce + 0.5 * 1e-3 * sum(tf.reduce_sum(weights[f"W{i}"] ** 2) for i in (1, 2, 3))
    tf_grads = tape.gradient(tf_loss, weights)

    assert loss == pytest.approx(float(tf_loss), rel=1e-12)
    for name in model.params:
        assert relative_error(grads[name], tf_grads[name].numpy()) < 1e-10, name


def test_float64_in_float64_out(rng):
    model = small_model()
    X, y = batch(rng)
    probs, cache = model.forward(X)
    assert probs.dtype == np.float64
    assert all(g.dtype == np.float64 for g in model.backward(y, cache).values())


def test_float32_training_stays_float32(rng):
    model = MLP((12, 7, 4))
    X, y = batch(rng)
    _, grads = model.loss(X.astype(np.float32), y, train=True)
    assert all(g.dtype == np.float32 for g in grads.values())


def test_params_are_the_single_source_of_truth(rng):
    model = small_model()
    X, _ = batch(rng)
    before = model.forward(X)[0].copy()
    model.params["W3"] = np.zeros_like(model.params["W3"])
    model.params["b3"] = np.zeros_like(model.params["b3"])
    after = model.forward(X)[0]
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, 0.25)  # zero logits: uniform over 4 classes
