"""The network's building blocks, each a forward/backward pair.

Every ``*_forward`` returns its output and a ``cache``; the matching
``*_backward`` takes the gradient of the loss with respect to that output
(``dout``) and the cache, and returns the gradients with respect to its inputs.
Chaining the backward functions in reverse order is backpropagation.

Shapes: N examples in a batch, D inputs, M outputs, C classes. Everything
follows the dtype of its inputs (float32 for training, float64 for the
gradient checks).
"""
import numpy as np


def affine_forward(x, W, b):
    """z = x W + b.

    x: (N, D), W: (D, M), b: (M,)  ->  z: (N, M)
    """
    z = x @ W
    z += b
    return z, (x, W)


def affine_backward(dz, cache, need_dx=True):
    """Gradients of z = x W + b, given dz = dL/dz of shape (N, M).

    dL/dW = x^T dz        (D, M): each weight collects input times error
    dL/db = sum_n dz      (M,):   the bias sees every example's error
    dL/dx = dz W^T        (N, D): the error sent back to the layer below

    The first layer's dx would be the gradient with respect to the pixels;
    nobody needs it, so ``need_dx=False`` skips that third of its work.
    """
    x, W = cache
    dW = x.T @ dz
    db = dz.sum(axis=0)
    dx = dz @ W.T if need_dx else None
    return dx, dW, db


def relu_forward(z):
    """h = max(z, 0), elementwise. Overwrites z, which nothing else keeps.

    The cache is h itself: h > 0 exactly where z > 0.
    """
    h = np.maximum(z, 0, out=z)
    return h, h


def relu_backward(dh, h):
    """dL/dz = dL/dh where the unit was active (z > 0), else 0.

    Works in place on dh, which the caller made fresh and does not reuse.
    """
    return np.multiply(dh, h > 0, out=dh)


def dropout_forward(h, p, rng):
    """Inverted dropout: zero each unit with probability p, scale the rest by 1/(1-p).

    The scaling keeps E[output] = h, so evaluation simply skips this layer.
    The cache is the mask (0 or 1/(1-p)), in h's dtype.

    Each unit's coin is 32 raw random bits, kept when they fall below
    keep * 2**32: the same bits rng.random would draw, without converting them
    to floats first, which made the masks cost half as much again. The rounding
    of the threshold moves keep by less than 2**-32.
    """
    keep = 1.0 - p
    words = -(-h.size // 2)  # two 32-bit coins per 64-bit draw
    bits = rng.bit_generator.random_raw(words).view(np.uint32)[:h.size].reshape(h.shape)
    mask = (bits < round(keep * 2**32)).astype(h.dtype)
    mask *= h.dtype.type(1.0 / keep)
    return h * mask, mask


def dropout_backward(dout, mask):
    """The same mask lets the gradient through where the unit was kept."""
    return dout * mask


def softmax_forward(logits):
    """probs[n, c] = exp(logits[n, c]) / sum_k exp(logits[n, k]).

    Subtracting each row's maximum first changes nothing mathematically but
    keeps every exponent <= 0, so exp cannot overflow even at logits of 1e4.
    The cache keeps the shifted logits and the row sums for a stable log.
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sums = exp.sum(axis=1, keepdims=True)
    return exp / sums, (shifted, sums)


def cross_entropy(cache, y):
    """Mean of -log probs[n, y[n]], from softmax_forward's cache.

    -log p_y = log(sum_k exp(shifted_k)) - shifted_y. Computed this way it stays
    finite when p_y itself underflows to 0 (a confidently wrong prediction).
    The row sum is >= 1 (the maximum contributes exp(0)), so its log is safe.
    """
    shifted, sums = cache
    rows = np.arange(len(y))
    # sum / n rather than np.mean: same value, a third of the call overhead.
    return float((np.log(sums[:, 0]) - shifted[rows, y]).sum()) / len(y)


def softmax_cross_entropy_backward(probs, y):
    """dL/dlogits for the mean cross-entropy of a softmax: (probs - onehot(y)) / N.

    Derivation: -log p_y = log sum_k exp(l_k) - l_y, so its derivative with
    respect to l_c is p_c - [c == y]. The Jacobian of the softmax and the
    derivative of the log cancel into this one subtraction.
    """
    n = len(y)
    dlogits = probs.copy()
    dlogits[np.arange(n), y] -= 1
    dlogits /= dlogits.dtype.type(n)
    return dlogits
