"""No subnormal numbers in the optimizers' state or the weights.

Where a gradient is exactly 0 (a pixel that no image of the batch inks, a dead
ReLU unit), momentum only decays: v <- 0.9 v. In float32 that ends in the
subnormal range (|v| < np.finfo(np.float32).tiny = 1.2e-38), and there it
stays, because 0.9 times a few units of the last place rounds back to itself.
Each operation on a subnormal costs ~100 cycles on many Intel CPUs: after two
epochs of MNIST a momentum step took twice as long. These tests fail as soon
as a subnormal survives a step. They count entries, they do not time anything.
"""
import numpy as np
import pytest

import optim
from model import MLP
from optim import SGD, Adam, count_subnormals

TINY = np.finfo(np.float32).tiny


def subnormals(a):
    """Number of entries of ``a`` with 0 < |a| < tiny."""
    return count_subnormals([a])


def state_of(opt):
    if isinstance(opt, SGD):
        return {f"velocity {k}": v for k, v in opt.velocity.items()}
    return {**{f"m {k}": a for k, a in opt.m.items()}, **{f"v {k}": a for k, a in opt.v.items()}}


def assert_no_subnormals(params, opt, step):
    found = {k: subnormals(a) for k, a in {**params, **state_of(opt)}.items()}
    found = {k: n for k, n in found.items() if n}
    assert not found, f"subnormal entries after step {step}: {found}"


def test_flush_below_tiny_zeroes_exactly_the_subnormals():
    smallest = np.float32(2.0**-149)
    a = np.array([0, -0.0, smallest, -smallest, TINY / 2, -TINY * 0.99, TINY, -TINY,
                  np.nextafter(TINY, 1, dtype=np.float32), 1e-30, -3.5, 1e30, np.inf, -np.inf],
                 np.float32)
    expect = a.copy()
    expect[2:6] = 0
    optim.flush_below(a, TINY, np.empty_like(a), np.empty(a.shape, bool))
    assert np.array_equal(a, expect)
    assert subnormals(a) == 0
    # The others are multiplied by exactly 1: the same bits.
    assert np.array_equal(a[6:].view(np.uint32), expect[6:].view(np.uint32))


@pytest.mark.parametrize("rate", [0.9, 0.99, 0.999, 0.5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_decay_floor_keeps_survivors_normal_until_the_next_flush(rate, dtype):
    """What survives a flush (>= the floor) and then only decays, by the rate
    rounded to the dtype as the rules multiply by it, is still normal when the
    next flush comes; and the floor is far below anything that moves a weight."""
    floor = optim.decay_floor(rate, dtype)
    tiny = np.finfo(dtype).tiny
    v = np.array([floor, -floor, np.nextafter(floor, 1, dtype=dtype)], dtype)
    for _ in range(optim.FLUSH_EVERY):
        v *= dtype(rate)
    assert np.all(np.abs(v) >= tiny)
    assert tiny <= floor < 2.0**24 * tiny


@pytest.mark.parametrize("make_opt", [lambda: SGD(lr=0.05, momentum=0.9),
                                      lambda: Adam(lr=1e-3)], ids=["sgd-momentum", "adam"])
def test_training_leaves_no_subnormals(make_opt):
    """An MLP whose first two input pixels are inked for a few steps and then
    never again: their first-layer weights get exactly zero gradients from
    then on, so their velocity (Adam: first moment) only decays, past 1e-38
    after ~800 steps. Dead ReLU units add more such weights. 1200 steps, each
    checked: no subnormal is allowed even between two flushes."""
    rng = np.random.default_rng(0)
    model = MLP((6, 8, 3), dropout=0.1, seed=0)
    opt = make_opt()
    X = rng.random((16, 6), dtype=np.float32)
    y = rng.integers(0, 3, 16)
    for step in range(1, 1201):
        if step == 6:
            X[:, :2] = 0  # these pixels go blank: their rows of dW1 are 0 from now on
        _, grads = model.loss(X, y, train=True)
        opt.step(model.params, grads)
        assert_no_subnormals(model.params, opt, step)
    # The test must have exercised the decay: the rows of the blank pixels
    # have state exactly 0, not merely tiny.
    state = opt.velocity["W1"] if isinstance(opt, SGD) else opt.m["W1"]
    assert np.all(state[:2] == 0)


def test_adam_second_moment_leaves_no_subnormals():
    """Adam's second moment decays by only 0.999 a step, but it starts from
    (1 - beta2) g**2, which is already small: a gradient of 1e-17 for 3 steps
    puts v near 3e-37 and m near 3e-18; at zero gradient afterwards, both fall
    below 1.2e-38 within 3,500 steps (and v would then stay subnormal for good:
    0.999 times up to ~500 units of the last place rounds back to itself)."""
    w = {"W": np.ones(4, np.float32)}
    opt = Adam(lr=1e-3)
    g = {"W": np.full(4, 1e-17, np.float32)}
    zero = {"W": np.zeros(4, np.float32)}
    for step in range(1, 3501):
        opt.step(w, g if step <= 3 else zero)
        assert_no_subnormals(w, opt, step)
    assert np.all(opt.v["W"] == 0) and np.all(opt.m["W"] == 0)


def test_sgd_velocity_reaches_zero():
    """Momentum alone on a zero gradient: the velocity must reach exactly 0,
    never stop at a few units of the last place below 1.2e-38."""
    w = {"W": np.full(3, 0.5, np.float32), "b": np.zeros(2, np.float32)}
    opt = SGD(lr=0.1, momentum=0.9)
    opt.step(w, {"W": np.array([1e-3, -2.0, 1e-20], np.float32),
                 "b": np.array([1.0, -1e-30], np.float32)})
    zero = {"W": np.zeros(3, np.float32), "b": np.zeros(2, np.float32)}
    for step in range(2, 1001):
        opt.step(w, zero)
        assert_no_subnormals(w, opt, step)
    assert all(np.all(v == 0) for v in opt.velocity.values())
