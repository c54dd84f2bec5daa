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


# ---- other activations (model.MLP(activation=...)) -------------------------
# Each forward returns (h, cache); each backward takes (dh, cache) -> dz.
# Unlike relu_forward they do not overwrite z: they are off the default path.

LEAKY_SLOPE = 0.01


def leaky_relu_forward(z, slope=LEAKY_SLOPE):
    """h = z where z > 0, slope * z elsewhere. A unit never goes fully silent,
    so it cannot "die" the way a ReLU unit can. Cache: (z > 0, slope)."""
    positive = z > 0
    return np.where(positive, z, z * z.dtype.type(slope)), (positive, slope)


def leaky_relu_backward(dh, cache):
    """dL/dz = dL/dh where z > 0, slope * dL/dh elsewhere."""
    positive, slope = cache
    return np.where(positive, dh, dh * dh.dtype.type(slope))


def tanh_forward(z):
    """h = tanh(z), in (-1, 1). The cache is h: tanh' = 1 - tanh**2."""
    h = np.tanh(z)
    return h, h


def tanh_backward(dh, h):
    """dL/dz = dL/dh * (1 - h**2)."""
    return dh * (1 - h * h)


def sigmoid_forward(z):
    """h = 1 / (1 + exp(-z)), in (0, 1). The cache is h: sigma' = h (1 - h).

    Written as 0.5 * (1 + tanh(z / 2)), the same function, so that exp never
    overflows for large negative z.
    """
    half = z.dtype.type(0.5)
    h = half * (1 + np.tanh(half * z))
    return h, h


def sigmoid_backward(dh, h):
    """dL/dz = dL/dh * h * (1 - h). At most 1/4: gradients shrink by at least
    4x per sigmoid layer, which is why deep sigmoid networks learn slowly."""
    return dh * h * (1 - h)


# ---- batch normalisation (Ioffe & Szegedy, 2015) ---------------------------
def batchnorm_forward(z, gamma, beta, running, train, momentum=0.9, eps=1e-5):
    """Normalise each unit over the batch, then rescale: out = gamma * zhat + beta.

    z: (N, M); gamma, beta: (M,); running: dict with "mean" and "var" (M,),
    updated in place when training.

    Training: zhat = (z - mean_batch) / sqrt(var_batch + eps), and the running
    averages move towards the batch statistics (running = momentum * running
    + (1 - momentum) * batch). Evaluation: the running averages stand in for
    the batch statistics, so a prediction does not depend on the rest of its
    batch. Either way the next layer sees inputs of a steady scale however the
    weights below change, which allows larger learning rates.
    Cache: (zhat, gamma, 1 / std, train).
    """
    if train:
        mean = z.mean(axis=0)
        var = z.var(axis=0)
        running["mean"] *= momentum
        running["mean"] += (1 - momentum) * mean
        running["var"] *= momentum
        running["var"] += (1 - momentum) * var
    else:
        mean, var = running["mean"], running["var"]
    inv_std = 1 / np.sqrt(var + z.dtype.type(eps))
    zhat = (z - mean) * inv_std
    return gamma * zhat + beta, (zhat, gamma, inv_std.astype(z.dtype, copy=False), train)


def batchnorm_backward(dout, cache):
    """Gradients (dz, dgamma, dbeta) of batchnorm_forward, given dout (N, M).

    dgamma = sum_n dout * zhat,  dbeta = sum_n dout,  dzhat = dout * gamma.
    Evaluation mode: mean and std are constants, so dz = dzhat / std.
    Training mode: every z in the batch also moves the batch mean and
    variance; carrying the chain rule through both gives the compact form

        dz = (1 / std) * (dzhat - mean_n(dzhat) - zhat * mean_n(dzhat * zhat))

    i.e. dzhat with its component along the constant direction and along
    zhat removed: shifting or scaling a unit's whole batch changes nothing
    after normalisation, so the gradient has no part in those directions.
    """
    zhat, gamma, inv_std, train = cache
    dgamma = (dout * zhat).sum(axis=0)
    dbeta = dout.sum(axis=0)
    dzhat = dout * gamma
    if not train:
        return dzhat * inv_std, dgamma, dbeta
    dz = dzhat - dzhat.mean(axis=0) - zhat * (dzhat * zhat).mean(axis=0)
    return dz * inv_std, dgamma, dbeta
