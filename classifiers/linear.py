"""Linear classifiers: scores = X W, trained with a multiclass SVM or a softmax loss.

A linear classifier gives each class one template, a column of W, and scores
an image by its dot product with each template. The two losses differ in
what they ask of the scores s = x W of an image of class y:

    SVM      every wrong class scores at least 1 below the right one:
             L_i = sum over j != y of max(0, s_j - s_y + 1)
    softmax  the scores, exponentiated and normalised, are probabilities, and
             the right class's should be high: L_i = -log(exp(s_y) / sum_j exp(s_j))

Both add reg * sum(W**2) (L2 regularisation, on every entry of W) to the mean
over examples. The bias is the caller's: append a column of ones to X, and
the last row of W is the bias.

Shapes: W (D, C), X (N, D), y (N,) integer labels in 0..C-1, scores (N, C).
Each loss returns (loss, dW) with dW (D, C), in the dtype of W and X. The
naive versions loop over examples and classes and are the readable
reference; the vectorised ones have no Python loop and agree with them to
floating-point rounding.
"""
import numpy as np


def mean_plus_regularization(loss_sum, dW_sum, W, num_train, reg):
    """(loss, dW) from the sums over the examples of the data loss (a number)
    and its gradient (D, C): their means, plus reg * sum(W**2), whose gradient
    is 2 * reg * W."""
    loss = loss_sum / num_train + reg * np.sum(W * W)
    return float(loss), dW_sum / num_train + 2 * reg * W


# ---- multiclass SVM (hinge) loss --------------------------------------------
def svm_loss_naive(W, X, y, reg):
    """(loss, dW) of the multiclass SVM, one example and one class at a time."""
    num_train, num_classes = len(X), W.shape[1]
    loss = 0.0
    dW = np.zeros_like(W)
    for i in range(num_train):
        scores = X[i] @ W                                        # (C,)
        correct_score = scores[y[i]]
        for j in range(num_classes):
            if j == y[i]:
                continue
            margin = scores[j] - correct_score + 1               # delta = 1
            if margin > 0:
                loss += margin
                # d margin / d W[:, j] = X[i]; d margin / d W[:, y_i] = -X[i].
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    return mean_plus_regularization(loss, dW, W, num_train, reg)


def svm_loss_vectorized(W, X, y, reg):
    """(loss, dW) of the multiclass SVM, no Python loop."""
    num_train = len(X)
    rows = np.arange(num_train)
    scores = X @ W                                               # (N, C)
    correct_scores = scores[rows, y][:, None]                    # (N, 1)
    margins = np.maximum(0, scores - correct_scores + 1)         # (N, C)
    margins[rows, y] = 0                                         # j == y_i is not summed
    # Each positive margin pulls its class's template towards X[i] and pushes
    # the correct one away: coeff[i, j] = 1 for j with margin > 0, and
    # coeff[i, y_i] = -(number of such j). Then dW = X^T coeff, one product.
    coeff = (margins > 0).astype(W.dtype)                        # (N, C)
    coeff[rows, y] = -coeff.sum(axis=1)
    return mean_plus_regularization(margins.sum(), X.T @ coeff, W, num_train, reg)


# ---- softmax (cross-entropy) loss -------------------------------------------
def softmax_loss_naive(W, X, y, reg):
    """(loss, dW) of softmax + cross-entropy, one example and one class at a time."""
    num_train, num_classes = len(X), W.shape[1]
    loss = 0.0
    dW = np.zeros_like(W)
    for i in range(num_train):
        scores = X[i] @ W                                        # (C,)
        # exp(1e4) overflows; softmax does not change when a constant is
        # subtracted from every score, so subtract the largest: the exponents
        # are then <= 0 and their sum >= 1, and the log below stays finite.
        scores = scores - np.max(scores)
        log_sum = np.log(np.sum(np.exp(scores)))
        loss += log_sum - scores[y[i]]                           # -log p_{y_i}
        for j in range(num_classes):
            p_j = np.exp(scores[j] - log_sum)
            # d L_i / d s_j = p_j - [j == y_i]; and d s_j / d W[:, j] = X[i].
            dW[:, j] += (p_j - (j == y[i])) * X[i]
    return mean_plus_regularization(loss, dW, W, num_train, reg)


def softmax_loss_vectorized(W, X, y, reg):
    """(loss, dW) of softmax + cross-entropy, no Python loop."""
    num_train = len(X)
    rows = np.arange(num_train)
    scores = X @ W                                               # (N, C)
    shifted = scores - scores.max(axis=1, keepdims=True)         # largest is 0: no overflow
    log_sums = np.log(np.exp(shifted).sum(axis=1))               # (N,)
    dscores = np.exp(shifted - log_sums[:, None])                # probabilities (N, C)
    dscores[rows, y] -= 1                                        # probs - onehot(y)
    return mean_plus_regularization(np.sum(log_sums - shifted[rows, y]), X.T @ dscores,
                                    W, num_train, reg)


# ---- training by stochastic gradient descent --------------------------------
class LinearClassifier:
    """A linear classifier trained by minibatch SGD. Subclasses supply ``loss``.

    ``seed`` fixes the initial weights and the batches: same seed, same model.
    """

    def __init__(self, seed=0):
        self.W = None
        self.rng = np.random.default_rng(seed)

    def train(self, X, y, learning_rate=1e-3, reg=1e-5, num_iters=100,
              batch_size=200, verbose=False):
        """Minibatch SGD on X (N, D), y (N,). Returns the loss of every
        iteration (a list of num_iters floats).

        W starts small and random (std 0.001), in the dtype of X, the first
        time; later calls continue from the current W. Each batch is a random
        sample of ``batch_size`` examples, drawn with replacement.
        """
        num_train, dim = X.shape
        num_classes = int(np.max(y)) + 1
        if self.W is None:
            self.W = (0.001 * self.rng.standard_normal((dim, num_classes))).astype(X.dtype)
        loss_history = []
        for it in range(num_iters):
            idx = self.rng.integers(0, num_train, batch_size)
            loss, dW = self.loss(X[idx], y[idx], reg)
            loss_history.append(loss)
            self.W -= learning_rate * dW
            if verbose and it % 100 == 0:
                print(f"iteration {it} / {num_iters}: loss {loss:.4f}")
        return loss_history

    def predict(self, X):
        """Labels (N,) for X (N, D): the class with the highest score."""
        return np.argmax(X @ self.W, axis=1)

    def loss(self, X_batch, y_batch, reg):
        """(loss, dW) on a batch; the subclasses' business."""
        raise NotImplementedError


class LinearSVM(LinearClassifier):
    """A linear classifier with the multiclass SVM (hinge) loss."""

    def loss(self, X_batch, y_batch, reg):
        return svm_loss_vectorized(self.W, X_batch, y_batch, reg)


class Softmax(LinearClassifier):
    """A linear classifier with the softmax (cross-entropy) loss."""

    def loss(self, X_batch, y_batch, reg):
        return softmax_loss_vectorized(self.W, X_batch, y_batch, reg)
