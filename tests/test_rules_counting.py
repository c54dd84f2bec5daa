"""Rule: votes, ties and counts hold for repeated values.

NumPy's fancy-index ``a[rows, labels] += 1`` adds once per distinct index, however
often it repeats, so every count the code makes with NumPy indexing is checked
against a plain-Python count (collections.Counter) on inputs full of repeats:
few labels, many images, k up to the whole training set.

Paths covered:
  classifiers/knn.py        predict_labels (several neighbours of one label, ties
                            between labels, k above the number of distinct labels,
                            labels that never occur), and predict with each of the
                            three distance implementations
  classifiers/compare.py    accuracy_per_k (every k from one set of distances) and
                            cross_validate_k (per fold)
  experiments/evaluate.py   confusion_matrix, per_class_scores, confused_pairs
  handwriting/benchmark.py  accuracy_table (per condition) and top_confusions,
                            refused images (-1) among them
"""
import collections

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from classifiers import KNearestNeighbor
from classifiers import compare
from experiments import evaluate
from handwriting import benchmark

FEW_EXAMPLES = settings(max_examples=60, deadline=None)


def python_vote(distances, labels, k):
    """The most common label among the k nearest, the smaller label on a tie."""
    nearest = sorted(range(len(distances)), key=lambda j: distances[j])[:k]
    votes = collections.Counter(int(labels[j]) for j in nearest)
    most = max(votes.values())
    return min(label for label, count in votes.items() if count == most)


@st.composite
def neighbour_problems(draw):
    """(dists, training labels, k): distinct distances in each row (which image is
    the k-th nearest is then defined), labels from a few values with repeats."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    num_train = draw(st.integers(1, 30))
    num_labels = draw(st.integers(1, 4))
    labels = rng.integers(0, num_labels, num_train) * draw(st.sampled_from([1, 3]))
    dists = np.array([rng.permutation(num_train) for _ in range(draw(st.integers(1, 8)))],
                     dtype=np.float32) / num_train
    return dists, labels, draw(st.integers(1, num_train))


@FEW_EXAMPLES
@given(neighbour_problems())
def test_knn_vote_counts_every_neighbour(problem):
    dists, labels, k = problem
    knn = KNearestNeighbor()
    knn.train(np.zeros((len(labels), 1), np.float32), labels)
    expected = [python_vote(row, labels, k) for row in dists]
    np.testing.assert_array_equal(knn.predict_labels(dists, k), expected)


def test_knn_vote_hand_cases():
    """The cases by name: two neighbours of one label outvote two single ones;
    a two-way tie goes to the smaller label; k above the number of labels."""
    knn = KNearestNeighbor()
    knn.train(np.zeros((5, 1), np.float32), np.array([5, 2, 5, 9, 2]))
    by_distance = np.array([[0.1, 0.2, 0.3, 0.4, 0.5]])  # labels 5, 2, 5, 9, 2
    assert [knn.predict_labels(by_distance, k)[0] for k in (1, 2, 3, 4, 5)] == [5, 2, 5, 5, 2]


@FEW_EXAMPLES
@given(st.integers(0, 2**32 - 1), st.sampled_from([0, 1, 2]))
def test_knn_predict_counts_like_python_with_every_distance_method(seed, num_loops):
    rng = np.random.default_rng(seed)
    X_train = rng.random((25, 3))
    y_train = rng.integers(0, 3, 25)
    X = rng.random((6, 3))
    knn = KNearestNeighbor()
    knn.train(X_train, y_train)
    exact = np.sqrt(((X[:, None] - X_train[None]) ** 2).sum(axis=2))
    for k in (1, 4, 7, 25):
        expected = [python_vote(row, y_train, k) for row in exact]
        np.testing.assert_array_equal(knn.predict(X, k, num_loops), expected)


def test_accuracy_per_k_and_cross_validation_count_like_python():
    rng = np.random.default_rng(5)
    X, y = rng.random((60, 4)), rng.integers(0, 3, 60)
    ks = (1, 2, 5, 9, 40)
    knn = KNearestNeighbor()
    knn.train(X[:40], y[:40])
    exact = np.sqrt(((X[40:, None] - X[None, :40]) ** 2).sum(axis=2))
    expected = [sum(python_vote(row, y[:40], k) == truth for row, truth in zip(exact, y[40:]))
                / 20 for k in ks]
    np.testing.assert_allclose(compare.accuracy_per_k(knn, X[40:], y[40:], ks), expected)
    # Fold 0 of 3 is the first 20 images, tested against the other 40.
    rolled_X, rolled_y = np.roll(X, 20, axis=0), np.roll(y, 20)
    cv = compare.cross_validate_k(rolled_X, rolled_y, ks, folds=3)
    np.testing.assert_allclose(cv[:, 0], expected)


labels_with_repeats = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)),
                               min_size=1, max_size=60)


@FEW_EXAMPLES
@given(labels_with_repeats)
def test_confusion_matrix_and_scores_count_like_python(pairs):
    y_true, y_pred = (np.array(column) for column in zip(*pairs))
    counts = evaluate.confusion_matrix(y_true, y_pred, num_classes=5)
    tally = collections.Counter(pairs)
    assert counts.tolist() == [[tally[t, p] for p in range(5)] for t in range(5)]
    precision, recall, support = evaluate.per_class_scores(counts)
    for c in range(5):
        right = tally[c, c]
        truly = sum(n for (t, _), n in tally.items() if t == c)
        called = sum(n for (_, p), n in tally.items() if p == c)
        assert support[c] == truly
        assert recall[c] == (right / truly if truly else 0)
        assert precision[c] == (right / called if called else 0)
    wrong = {(t, p): n for (t, p), n in tally.items() if t != p}
    top = evaluate.confused_pairs(counts, top=3)
    assert [n for _, _, n in top] == sorted(wrong.values(), reverse=True)[:3]
    assert all(wrong[t, p] == n for t, p, n in top)


@FEW_EXAMPLES
@given(st.lists(st.tuples(st.sampled_from("abc"), st.integers(0, 3), st.integers(-1, 3)),
                min_size=1, max_size=60))
def test_benchmark_counts_like_python(samples):
    """Per-condition accuracy and the commonest mistakes; -1 is a refused image."""
    rows = [row for row, _, _ in samples]
    truth = np.array([t for _, t, _ in samples])
    predicted = np.array([p for _, _, p in samples])
    table = benchmark.accuracy_table(rows, truth, predicted)
    assert list(table) == list(dict.fromkeys(rows))
    for row in table:
        mine = [(t, p) for r, t, p in samples if r == row]
        assert table[row] == sum(t == p for t, p in mine) / len(mine)
    wrong = collections.Counter((t, p) for _, t, p in samples if t != p)
    top = benchmark.top_confusions(truth, predicted, n=4)
    assert [n for _, _, n in top] == sorted(wrong.values(), reverse=True)[:4]
    assert all(wrong[t, p] == n for t, p, n in top)
