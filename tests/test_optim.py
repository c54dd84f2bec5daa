"""One step of each update rule against values worked out by hand."""
import numpy as np
import pytest

from optim import SCHEDULES, SGD, Adam


def test_plain_sgd():
    w = {"W": np.array([1.0, -2.0])}
    SGD(lr=0.1).step(w, {"W": np.array([0.5, -1.0])})
    np.testing.assert_allclose(w["W"], [0.95, -1.9])


def test_momentum_two_steps():
    w = {"W": np.array([1.0])}
    opt = SGD(lr=0.1, momentum=0.9)
    opt.step(w, {"W": np.array([2.0])})   # v = -0.2,              w = 0.8
    np.testing.assert_allclose(w["W"], [0.8])
    opt.step(w, {"W": np.array([1.0])})   # v = 0.9*-0.2 - 0.1 = -0.28, w = 0.52
    np.testing.assert_allclose(w["W"], [0.52])
    np.testing.assert_allclose(opt.velocity["W"], [-0.28])


def test_adam_two_steps():
    w = {"W": np.array([1.0, 1.0])}
    opt = Adam(lr=0.01)
    opt.step(w, {"W": np.array([0.3, -2.0])})
    # Step 1: m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps) ~ lr * sign(g).
    w1 = np.array([1 - 0.01 * 0.3 / (0.3 + 1e-8), 1 + 0.01 * 2.0 / (2.0 + 1e-8)])
    np.testing.assert_allclose(w["W"], w1, rtol=1e-15)
    opt.step(w, {"W": np.array([0.1, 1.0])})
    # Step 2, first entry by hand:
    #   m = 0.9 * 0.03 + 0.1 * 0.1           = 0.037      m_hat = 0.037 / 0.19     = 0.194737
    #   v = 0.999 * 0.00009 + 0.001 * 0.01    = 9.991e-5   v_hat = 9.991e-5 / 1.999e-3 = 0.049980
    #   w = w1 - 0.01 * 0.194737 / (sqrt(0.049980) + 1e-8) = w1 - 0.0087106
    # second entry: m = 0.9 * -0.2 + 0.1 = -0.08, v = 0.999 * 0.004 + 0.001 = 0.004996
    m_hat = np.array([0.037, -0.08]) / 0.19
    v_hat = np.array([9.991e-5, 0.004996]) / 1.999e-3
    np.testing.assert_allclose(w["W"], w1 - 0.01 * m_hat / (np.sqrt(v_hat) + 1e-8), rtol=1e-12)
    assert w["W"][0] == pytest.approx(w1[0] - 0.0087106, abs=1e-7)


def test_float32_updates_stay_float32():
    w = {"W": np.ones(3, np.float32)}
    for opt in (SGD(0.1, 0.9), Adam()):
        opt.step(w, {"W": np.ones(3, np.float32)})
        assert w["W"].dtype == np.float32


def test_cosine_schedule():
    cosine = SCHEDULES["cosine"]
    assert cosine(0) == 1
    assert cosine(0.5) == pytest.approx(0.5)
    assert cosine(1) == pytest.approx(0, abs=1e-12)
    assert SCHEDULES["constant"](0.7) == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_sgd_updates_every_parameter_in_place(dtype, momentum):
    """SGD runs BLAS's axpy on flat views of the weights: the arrays in ``params``
    (2-D, as the model keeps them) must change themselves, by the formula, over
    several steps. A copy made on the way (a wrong dtype, a non-contiguous view)
    would leave them untouched."""
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((5, 3)).astype(dtype), "b": np.zeros(3, dtype)}
    arrays = dict(params)  # the same objects
    expect = {k: v.astype(np.float64) for k, v in params.items()}
    velocity = {k: np.zeros_like(v) for k, v in expect.items()}
    opt = SGD(lr=0.05, momentum=momentum)
    for _ in range(3):
        grads = {k: rng.standard_normal(v.shape).astype(dtype) for k, v in params.items()}
        opt.step(params, grads)
        for k in expect:
            velocity[k] = momentum * velocity[k] - 0.05 * grads[k]
            expect[k] += velocity[k]
    for k in params:
        assert params[k] is arrays[k] and params[k].dtype == dtype
        np.testing.assert_allclose(params[k], expect[k], rtol=1e-5 if dtype == np.float32 else 1e-12,
                                   atol=1e-6 if dtype == np.float32 else 1e-14)


def test_sgd_refuses_a_parameter_it_cannot_update_in_place():
    params = {"W": np.ones((4, 3), np.float32).T}  # a transposed view: not C-contiguous
    with pytest.raises(ValueError, match="C-contiguous"):
        SGD(lr=0.1, momentum=0.9).step(params, {"W": np.ones((3, 4), np.float32)})
