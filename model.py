"""A multilayer perceptron for MNIST, forward and backward written by hand.

    x (N, 784) -> [affine -> ReLU -> dropout] x hidden layers -> affine -> softmax

Loss: the mean cross-entropy of the softmax, plus 0.5 * l2 * sum(W**2) over
the weight matrices when l2 > 0. The layer functions are in layers.py; this
class strings them together, keeps the weights, and runs the chain rule back.
"""
import os
import tempfile

import numpy as np

from layers import (
    affine_backward,
    affine_forward,
    cross_entropy,
    dropout_backward,
    dropout_forward,
    relu_backward,
    relu_forward,
    softmax_cross_entropy_backward,
    softmax_forward,
)


class MLP:
    """MLP(sizes=(784, 128, 64, 10), *, l2=0.0, dropout=0.0, seed=0, dtype=np.float32)

    ``sizes`` lists the width of every layer, input first, classes last.
    ``params`` holds W1, b1, W2, b2, ...; Wi has shape (fan_in, fan_out). It is
    the only copy of the weights: change an array there and the model changes.
    """

    def __init__(self, sizes=(784, 128, 64, 10), *, l2=0.0, dropout=0.0, seed=0,
                 dtype=np.float32):
        sizes = tuple(int(s) for s in sizes)
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"sizes must be >= 2 positive integers, got {sizes}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.l2 = float(l2)
        self.dropout = float(dropout)
        # One generator for the initial weights, then for the dropout masks.
        self.rng = np.random.default_rng(seed)
        self.params = {}
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            # He initialisation: std sqrt(2 / fan_in) keeps the variance of the
            # pre-activations about constant from layer to layer, because ReLU
            # zeroes half of its inputs and so halves the variance it passes on.
            W = self.rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
            self.params[f"W{i}"] = W.astype(dtype)
            self.params[f"b{i}"] = np.zeros(fan_out, dtype=dtype)
        self._cache = None

    @property
    def num_layers(self):
        """Number of affine layers (hidden layers + the output layer)."""
        return len(self.params) // 2

    @property
    def sizes(self):
        Ws = [self.params[f"W{i}"] for i in range(1, self.num_layers + 1)]
        return (Ws[0].shape[0],) + tuple(W.shape[1] for W in Ws)

    # ---- forward -----------------------------------------------------------
    def forward(self, X, train=False):
        """Class probabilities (N, C) for inputs X (N, D); keeps what backward needs.

        Dropout is applied to the hidden activations only when ``train`` is True.
        """
        L = self.num_layers
        h = X
        layers = []  # per hidden layer: (affine cache, relu cache, dropout mask)
        hidden = []  # ReLU outputs before dropout, for the dead-unit count
        for i in range(1, L):
            z, affine_cache = affine_forward(h, self.params[f"W{i}"], self.params[f"b{i}"])
            h, relu_cache = relu_forward(z)
            hidden.append(h)
            mask = None
            if train and self.dropout > 0:
                h, mask = dropout_forward(h, self.dropout, self.rng)
            layers.append((affine_cache, relu_cache, mask))
        logits, out_cache = affine_forward(h, self.params[f"W{L}"], self.params[f"b{L}"])
        probs, softmax_cache = softmax_forward(logits)
        self._cache = (layers, out_cache, probs, softmax_cache)
        self.probs = probs
        self.hidden = hidden
        return probs

    def data_loss(self, y):
        """Mean cross-entropy of the last forward pass against labels y."""
        return cross_entropy(self._cache[3], y)

    def l2_penalty(self):
        """0.5 * l2 * sum of squared weights (biases are not penalised)."""
        if self.l2 == 0:
            return 0.0
        Ws = (self.params[f"W{i}"] for i in range(1, self.num_layers + 1))
        return 0.5 * self.l2 * float(sum(np.vdot(W, W) for W in Ws))

    # ---- backward ----------------------------------------------------------
    def backward(self, y):
        """Gradients of the loss of the last forward pass, keyed like ``params``.

        The chain rule, from the top:
          dlogits = (probs - onehot(y)) / N               softmax + cross-entropy
          dW_L, db_L, dh = affine_backward(dlogits)       output layer
          then for each hidden layer, downwards:
            dh *= dropout mask                            (if dropout was on)
            dz  = dh * (h > 0)                            ReLU
            dW_i, db_i, dh = affine_backward(dz)
          and dW_i += l2 * W_i for the weight-decay term.
        """
        if self._cache is None:
            raise RuntimeError("backward() needs a forward() first")
        layers, out_cache, probs, _ = self._cache
        L = self.num_layers
        grads = {}
        dlogits = softmax_cross_entropy_backward(probs, y)
        dh, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dlogits, out_cache)
        for i in range(L - 1, 0, -1):
            affine_cache, relu_cache, mask = layers[i - 1]
            if mask is not None:
                dh = dropout_backward(dh, mask)
            dz = relu_backward(dh, relu_cache)
            dh, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(
                dz, affine_cache, need_dx=i > 1)
        if self.l2:
            for i in range(1, L + 1):
                grads[f"W{i}"] += self.l2 * self.params[f"W{i}"]
        return grads

    def loss(self, X, y, train=False):
        """(loss, grads) for a batch: one forward and one backward pass."""
        self.forward(X, train=train)
        loss = self.data_loss(y) + self.l2_penalty()
        return loss, self.backward(y)

    # ---- using the trained network ----------------------------------------
    def predict(self, X, batch_size=10000):
        """Integer class labels (N,) for inputs X (N, D)."""
        return np.concatenate([self.forward(X[i:i + batch_size]).argmax(axis=1)
                               for i in range(0, len(X), batch_size)])

    def accuracy(self, X, y):
        return float(np.mean(self.predict(X) == y))

    def dead_fraction(self, X):
        """Per hidden layer, the fraction of ReLU units that output 0 for every row of X."""
        self.forward(X)
        return [float(np.mean(~(h > 0).any(axis=0))) for h in self.hidden]

    # ---- saving ------------------------------------------------------------
    def save(self, path):
        """Write the weights and layer sizes to an .npz file, atomically."""
        path = os.fspath(path)
        folder = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, sizes=np.array(self.sizes), l2=self.l2,
                         dropout=self.dropout, **self.params)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise

    @classmethod
    def load(cls, path):
        """An MLP with the weights of a file written by ``save``.

        Raises ValueError with one line naming the file when it is not such a
        file: missing, truncated or corrupt, keys or shapes that do not fit,
        weights that are not finite.
        """
        try:
            # np.load takes whatever is not a zip archive for a pickle or a
            # single .npy, with confusing messages; check the magic number first.
            with open(path, "rb") as f:
                if f.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):
                    raise ValueError("not an .npz file (no zip header)")
            with np.load(path, allow_pickle=False) as f:
                saved = {name: f[name] for name in f.files}
        except OSError as e:
            raise ValueError(f"{path}: cannot read ({e.strerror or e})") from None
        except Exception as e:  # zipfile, zlib and format errors: a damaged file
            raise ValueError(f"{path}: not a saved MLP, truncated or corrupt? "
                             f"({type(e).__name__}: {e})") from None
        try:
            sizes = saved["sizes"]
            if (sizes.ndim != 1 or sizes.dtype.kind not in "iu" or len(sizes) < 2
                    or sizes.min() < 1):
                raise ValueError(f"sizes must be >= 2 positive integers, got {sizes.tolist()}")
            sizes = [int(s) for s in sizes]
            # Check the weights against the sizes before building a model of
            # those sizes: a corrupt size must not ask for terabytes.
            for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
                for name, shape in ((f"W{i}", (fan_in, fan_out)), (f"b{i}", (fan_out,))):
                    if saved[name].shape != shape:
                        raise ValueError(f"{name} has shape {saved[name].shape}, expected {shape}")
                    if saved[name].dtype.kind != "f" or not np.isfinite(saved[name]).all():
                        raise ValueError(f"{name} must hold finite floats")
            model = cls(sizes, l2=float(saved["l2"]), dropout=float(saved["dropout"]))
        except KeyError as e:
            raise ValueError(f"{path}: not a saved MLP (no array {e.args[0]!r})") from None
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: not a saved MLP ({e})") from None
        for name, value in model.params.items():
            model.params[name] = saved[name].astype(value.dtype)
        return model
