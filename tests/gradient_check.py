"""Numerical gradients, to check the hand-written backward passes.

Central differences: df/dx ~ (f(x + h) - f(x - h)) / 2h, with an error of
order h**2. Run in float64: in float32, rounding error (~1e-7 relative)
divided by h would swamp the comparison.
"""
import numpy as np


def numerical_gradient(f, x, h=1e-5):
    """Gradient of the scalar function f() with respect to the array x, by
    nudging each entry of x in place (f must read x)."""
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        f_plus = f()
        x[i] = old - h
        f_minus = f()
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def relative_error(a, b):
    """max |a - b| / max(|a| + |b|): scale-free, 0 when equal, 1 when unrelated."""
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a) + np.abs(b)), 1e-12))
