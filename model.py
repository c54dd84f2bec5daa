"""A multilayer perceptron for MNIST, forward and backward written by hand.

    x (N, 784) -> [affine -> ReLU -> dropout] x hidden layers -> affine -> softmax

Options: another activation in place of ReLU (leaky_relu, tanh, sigmoid), and
batch normalisation between each hidden affine layer and its activation.

Loss: the mean cross-entropy of the softmax, plus 0.5 * l2 * sum(W**2) over
the weight matrices when l2 > 0. The layer functions are in layers.py; this
class strings them together, keeps the weights, and runs the chain rule back.
"""
from typing import NamedTuple

import numpy as np

from fileio import NPZ_MAGIC, write_atomically
from layers import (
    LEAKY_SLOPE,
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_forward,
    cross_entropy,
    dropout_backward,
    dropout_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    softmax_cross_entropy_backward,
    softmax_forward,
    tanh_backward,
    tanh_forward,
)


class Cache(NamedTuple):
    """What ``MLP.forward`` computed that ``backward`` and the callers need. It is
    returned, never kept on the model, so two threads can run forward at once."""
    layers: list  # per hidden layer: (affine, batchnorm, activation caches, dropout mask)
    output: tuple  # the output layer's affine cache
    softmax: tuple  # the softmax's cache, for the loss
    probs: np.ndarray  # (N, C) class probabilities
    hidden: list  # per hidden layer, its activations (N, width) before dropout


def dead_fraction(hidden):
    """Per hidden layer, the fraction of units that output <= 0 for every row
    (dead ReLU units; for other activations, units that never turn positive).
    ``hidden`` is a forward pass's ``cache.hidden``."""
    return [float(np.mean(~(h > 0).any(axis=0))) for h in hidden]


# name -> (forward, backward, variance gain of the initialisation: see __init__)
ACTIVATIONS = {
    "relu": (relu_forward, relu_backward, 2.0),
    "leaky_relu": (leaky_relu_forward, leaky_relu_backward, 2.0 / (1 + LEAKY_SLOPE ** 2)),
    "tanh": (tanh_forward, tanh_backward, None),
    "sigmoid": (sigmoid_forward, sigmoid_backward, None),
}


class MLP:
    """MLP(sizes=(784, 128, 64, 10), *, l2=0.0, dropout=0.0, seed=0, dtype=np.float32,
           activation="relu", batchnorm=False, classes=None)

    ``sizes`` lists the width of every layer, input first, classes last.
    ``classes`` names the outputs, output k first (default: "0", "1", ...,
    the digits for MNIST); saved with the weights, for the tools that show them.
    ``params`` holds W1, b1, W2, b2, ...; Wi has shape (fan_in, fan_out). It is
    the only copy of the weights: change an array there and the model changes.
    ``activation`` is one of ACTIVATIONS. With ``batchnorm`` every hidden layer
    also has a scale gamma_i and shift beta_i in ``params``, and running
    averages of its batch statistics in ``bn_running`` (used for evaluation).
    Its bias b_i is kept, for a uniform layout, but does nothing: batch
    normalisation subtracts the batch mean, which removes any constant added
    before it, so b_i's gradient is 0 and it stays at its initial 0 (beta_i
    takes its role).
    """

    def __init__(self, sizes=(784, 128, 64, 10), *, l2=0.0, dropout=0.0, seed=0,
                 dtype=np.float32, activation="relu", batchnorm=False, classes=None):
        sizes = tuple(int(s) for s in sizes)
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"sizes must be >= 2 positive integers, got {sizes}")
        self.classes = (tuple(str(c) for c in range(sizes[-1])) if classes is None
                        else tuple(str(c) for c in classes))
        if len(self.classes) != sizes[-1]:
            raise ValueError(f"{len(self.classes)} class names for {sizes[-1]} outputs")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, "
                             f"got {activation!r}")
        self.l2 = float(l2)
        self.dropout = float(dropout)
        self.activation = activation
        self.batchnorm = bool(batchnorm)
        self._act_forward, self._act_backward, gain = ACTIVATIONS[activation]
        # One generator for the initial weights, then for the dropout masks.
        self.rng = np.random.default_rng(seed)
        self.params = {}
        self.num_layers = len(sizes) - 1  # affine layers: the hidden ones and the output
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            # He initialisation: std sqrt(2 / fan_in) keeps the variance of the
            # pre-activations about constant from layer to layer, because ReLU
            # zeroes half of its inputs and so halves the variance it passes on
            # (leaky ReLU: a little less than half, hence 2 / (1 + slope**2)).
            # tanh and sigmoid are about linear near 0 and lose nothing there:
            # Xavier/Glorot's std sqrt(2 / (fan_in + fan_out)) balances the
            # variance of the signal going up and of the gradient coming down.
            std = (np.sqrt(gain / fan_in) if gain is not None
                   else np.sqrt(2.0 / (fan_in + fan_out)))
            W = self.rng.standard_normal((fan_in, fan_out)) * std
            self.params[f"W{i}"] = W.astype(dtype)
            self.params[f"b{i}"] = np.zeros(fan_out, dtype=dtype)
        # Batch normalisation on the hidden layers: start as the identity.
        self.bn_running = []
        if self.batchnorm:
            for i, width in enumerate(sizes[1:-1], start=1):
                self.params[f"gamma{i}"] = np.ones(width, dtype=dtype)
                self.params[f"beta{i}"] = np.zeros(width, dtype=dtype)
                self.bn_running.append({"mean": np.zeros(width, dtype=dtype),
                                        "var": np.ones(width, dtype=dtype)})

    @property
    def sizes(self):
        Ws = [self.params[f"W{i}"] for i in range(1, self.num_layers + 1)]
        return (Ws[0].shape[0],) + tuple(W.shape[1] for W in Ws)

    # ---- forward -----------------------------------------------------------
    def forward(self, X, train=False):
        """(probs, cache): class probabilities (N, C) for inputs X (N, D), and what
        ``backward`` needs, which also holds each hidden layer's activations.

        Dropout is applied to the hidden activations only when ``train`` is True;
        batch normalisation uses the batch's statistics then, else the running ones.
        Nothing is left on the model: with ``train`` False, several threads may
        call it at once.
        """
        L = self.num_layers
        h = X
        layers = []  # per hidden layer: (affine, batchnorm, activation caches, dropout mask)
        hidden = []  # activations before dropout: what a dead unit never makes positive
        for i in range(1, L):
            z, affine_cache = affine_forward(h, self.params[f"W{i}"], self.params[f"b{i}"])
            bn_cache = None
            if self.batchnorm:
                z, bn_cache = batchnorm_forward(z, self.params[f"gamma{i}"],
                                                self.params[f"beta{i}"],
                                                self.bn_running[i - 1], train)
            h, act_cache = self._act_forward(z)
            hidden.append(h)
            mask = None
            if train and self.dropout > 0:
                h, mask = dropout_forward(h, self.dropout, self.rng)
            layers.append((affine_cache, bn_cache, act_cache, mask))
        logits, out_cache = affine_forward(h, self.params[f"W{L}"], self.params[f"b{L}"])
        probs, softmax_cache = softmax_forward(logits)
        return probs, Cache(layers, out_cache, softmax_cache, probs, hidden)

    def data_loss(self, y, cache):
        """Mean cross-entropy of a forward pass (its ``cache``) against labels y."""
        return cross_entropy(cache.softmax, y)

    def l2_penalty(self):
        """0.5 * l2 * sum of squared weights (biases are not penalised)."""
        if self.l2 == 0:
            return 0.0
        Ws = (self.params[f"W{i}"] for i in range(1, self.num_layers + 1))
        return 0.5 * self.l2 * float(sum(np.vdot(W, W) for W in Ws))

    # ---- backward ----------------------------------------------------------
    def backward(self, y, cache):
        """Gradients of the loss of a forward pass (its ``cache``), keyed like ``params``.

        The chain rule, from the top:
          dlogits = (probs - onehot(y)) / N               softmax + cross-entropy
          dW_L, db_L, dh = affine_backward(dlogits)       output layer
          then for each hidden layer, downwards:
            dh *= dropout mask                            (if dropout was on)
            dz  = dh * (h > 0)                            ReLU (or another activation)
            dz, dgamma_i, dbeta_i = batchnorm_backward(dz)  (if batch norm is on)
            dW_i, db_i, dh = affine_backward(dz)
          and dW_i += l2 * W_i for the weight-decay term.
        """
        L = self.num_layers
        grads = {}
        dlogits = softmax_cross_entropy_backward(cache.probs, y)
        dh, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dlogits, cache.output)
        for i in range(L - 1, 0, -1):
            affine_cache, bn_cache, act_cache, mask = cache.layers[i - 1]
            if mask is not None:
                dh = dropout_backward(dh, mask)
            dz = self._act_backward(dh, act_cache)
            if bn_cache is not None:
                dz, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward(dz, bn_cache)
            dh, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(
                dz, affine_cache, need_dx=i > 1)
        if self.l2:
            for i in range(1, L + 1):
                grads[f"W{i}"] += self.l2 * self.params[f"W{i}"]
        return grads

    def loss(self, X, y, train=False):
        """(loss, grads) for a batch: one forward and one backward pass."""
        _, cache = self.forward(X, train=train)
        loss = self.data_loss(y, cache) + self.l2_penalty()
        return loss, self.backward(y, cache)

    # ---- using the trained network ----------------------------------------
    def predict_proba(self, X, batch_size=10000):
        """Class probabilities (N, C) for inputs X (N, D), in batches of ``batch_size``
        rows (the intermediate activations of all 60,000 images at once would
        take about 0.5 GB)."""
        return np.concatenate([self.forward(X[i:i + batch_size])[0]
                               for i in range(0, len(X), batch_size)])

    def predict(self, X, batch_size=10000):
        """Integer class labels (N,) for inputs X (N, D)."""
        return self.predict_proba(X, batch_size).argmax(axis=1)

    def accuracy(self, X, y):
        return float(np.mean(self.predict(X) == y))

    # ---- saving ------------------------------------------------------------
    def save(self, path):
        """Write the weights and layer sizes to an .npz file, atomically."""
        running = {f"bn_{key}{i}": stats[key]
                   for i, stats in enumerate(self.bn_running, start=1) for key in ("mean", "var")}
        write_atomically(path, lambda f: np.savez(
            f, sizes=np.array(self.sizes), l2=self.l2, dropout=self.dropout,
            activation=self.activation, batchnorm=self.batchnorm,
            classes=np.array(self.classes, dtype=str), **self.params, **running))

    @classmethod
    def load(cls, path):
        """An MLP with the weights of a file written by ``save``.

        Raises ValueError with one line naming the file when it is not such a
        file: missing, truncated or corrupt, keys or shapes that do not fit,
        weights that are not finite.
        """
        try:
            with open(path, "rb") as f:
                if f.read(4) not in NPZ_MAGIC:
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
            # Files from before the activation and batchnorm options: ReLU, none.
            activation = str(saved["activation"]) if "activation" in saved else "relu"
            batchnorm = bool(saved["batchnorm"]) if "batchnorm" in saved else False
            # Files from before class names: the outputs are numbered (digits).
            classes = saved["classes"].tolist() if "classes" in saved else None
            if classes is not None and (saved["classes"].ndim != 1
                                        or saved["classes"].dtype.kind != "U"):
                raise ValueError("classes must be a list of names")
            model = cls(sizes, l2=float(saved["l2"]), dropout=float(saved["dropout"]),
                        activation=activation, batchnorm=batchnorm, classes=classes)
            running = {f"bn_{key}{i}": stats[key]
                       for i, stats in enumerate(model.bn_running, start=1) for key in stats}
            for name, value in (*model.params.items(), *running.items()):
                if saved[name].shape != value.shape:  # batch norm's gamma, beta, statistics
                    raise ValueError(f"{name} has shape {saved[name].shape}, expected {value.shape}")
                value[...] = saved[name]
        except KeyError as e:
            raise ValueError(f"{path}: not a saved MLP (no array {e.args[0]!r})") from None
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: not a saved MLP ({e})") from None
        return model
