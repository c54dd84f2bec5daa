"""k-nearest neighbours with the Euclidean (L2) distance on raw pixels.

Training is remembering the data; all the work is at test time, where every
test image is compared with every training image. That comparison is written
three ways, from the obvious to the fast, and they give the same matrix:

    two loops   one subtraction per (test, train) pair: 500 million for MNIST
    one loop    one test image against the whole training set at once
    no loops    |a - b|^2 = |a|^2 + |b|^2 - 2 a.b: one matrix product per block

Shapes: X_train (num_train, D), y_train (num_train,), X (num_test, D),
dists (num_test, num_train), D = 784 for MNIST.
"""
import numpy as np

# Test images per block of the no-loop distances. A block of the MNIST
# distance matrix is BLOCK_ROWS x 50,000 float32 = 100 MB, and it is the only
# large temporary: the whole 10,000 x 50,000 matrix (2 GB) is never needed to
# predict, one block at a time is enough.
BLOCK_ROWS = 500


class KNearestNeighbor:
    """A k-nearest-neighbour classifier with the L2 distance."""

    def train(self, X, y):
        """Remember the training data: X (num_train, D), y (num_train,) integer labels."""
        self.X_train = X
        self.y_train = np.asarray(y)
        self.num_classes = int(self.y_train.max()) + 1

    def predict(self, X, k=1, num_loops=0):
        """Labels (num_test,) for X (num_test, D): the vote of the k nearest.

        num_loops picks the distance implementation (0, 1 or 2). With 0 (the
        fast one) the distances are computed and voted on one block of test
        images at a time, so memory stays at one block however large X is.
        """
        if num_loops == 0:
            return np.concatenate([self.predict_labels(block, k)
                                   for block in self._distance_blocks(X)])
        if num_loops == 1:
            return self.predict_labels(self.compute_distances_one_loop(X), k)
        if num_loops == 2:
            return self.predict_labels(self.compute_distances_two_loops(X), k)
        raise ValueError(f"num_loops must be 0, 1 or 2, got {num_loops!r}")

    # ---- three ways to the same distance matrix ---------------------------
    def compute_distances_two_loops(self, X):
        """dists (num_test, num_train), dists[i, j] = |X[i] - X_train[j]|.

        The definition, one pair at a time. Each pair costs a few NumPy calls
        of Python overhead for 784 multiply-adds of real work: this is the
        version the other two are checked against, not one to run on MNIST.
        """
        num_test, num_train = len(X), len(self.X_train)
        dists = np.zeros((num_test, num_train), dtype=np.result_type(X, self.X_train))
        for i in range(num_test):
            for j in range(num_train):
                diff = X[i] - self.X_train[j]                       # (D,)
                dists[i, j] = np.sqrt(np.sum(diff * diff))
        return dists

    def compute_distances_one_loop(self, X):
        """dists (num_test, num_train), one test image against all training images per step.

        Broadcasting subtracts X[i] (D,) from every row of X_train (num_train, D);
        the (num_train, D) difference is a temporary of 157 MB on MNIST, made
        and thrown away num_test times: faster than two loops, but memory-bound.
        """
        num_test, num_train = len(X), len(self.X_train)
        dists = np.zeros((num_test, num_train), dtype=np.result_type(X, self.X_train))
        for i in range(num_test):
            diff = self.X_train - X[i]                               # (num_train, D)
            dists[i] = np.sqrt(np.sum(diff * diff, axis=1))
        return dists

    def compute_distances_no_loops(self, X):
        """dists (num_test, num_train) with no Python loop over examples.

        Expanding the square, |a - b|^2 = |a|^2 + |b|^2 - 2 a.b, turns all the
        inner products into one matrix product, which BLAS computes at close
        to the processor's peak. The matrix is filled one block of BLOCK_ROWS
        test images at a time so that the temporaries are one block, not a
        second copy of the result (10,000 x 50,000 float32 is 2 GB by itself).
        """
        dists = np.empty((len(X), len(self.X_train)), dtype=np.result_type(X, self.X_train))
        for start, block in zip(range(0, len(X), BLOCK_ROWS), self._distance_blocks(X)):
            dists[start:start + len(block)] = block
        return dists

    def _distance_blocks(self, X):
        """The rows of compute_distances_no_loops(X), BLOCK_ROWS at a time:
        yields blocks (<= BLOCK_ROWS, num_train)."""
        train_sq = np.einsum("ij,ij->i", self.X_train, self.X_train)   # |b|^2, (num_train,)
        for start in range(0, len(X), BLOCK_ROWS):
            Xb = X[start:start + BLOCK_ROWS]                           # (B, D)
            block = Xb @ self.X_train.T                                # a.b, (B, num_train)
            block *= -2                                                # in place: no new
            block += np.einsum("ij,ij->i", Xb, Xb)[:, None]            # (B, num_train)
            block += train_sq                                          # arrays
            # Rounding can leave a tiny negative number where the true squared
            # distance is 0 (an image and its duplicate), and sqrt of it is NaN.
            np.maximum(block, 0, out=block)
            yield np.sqrt(block, out=block)

    # ---- the vote ----------------------------------------------------------
    def predict_labels(self, dists, k=1):
        """Labels (num_test,) from dists (num_test, num_train): the most common
        label among the k nearest training images; a tie goes to the smaller label.

        Which training images tie for the k-th place (equal distances) is not
        specified; with real images such ties are vanishingly rare.
        """
        if not 1 <= k <= dists.shape[1]:
            raise ValueError(f"k must be in 1..{dists.shape[1]} (the training set), got {k}")
        # argpartition puts the k smallest distances of each row first, in
        # O(num_train) instead of a full sort's O(num_train log num_train);
        # their order among themselves does not matter to a vote.
        nearest = np.argpartition(dists, k - 1, axis=1)[:, :k]         # (num_test, k)
        closest_y = self.y_train[nearest]                              # (num_test, k)
        # votes[i, c] = how many of test image i's neighbours have label c.
        votes = np.zeros((len(dists), self.num_classes), dtype=np.int64)
        np.add.at(votes, (np.arange(len(dists))[:, None], closest_y), 1)
        # argmax returns the first maximum: on a tie, the smaller label.
        return votes.argmax(axis=1)
