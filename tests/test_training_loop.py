"""The training loop and what surrounds it: the mistakes people make in `fit`
and `main`, caught by watching behaviour rather than reading lines.

- a spy model records the batches fit hands it: every epoch a permutation of
  the training set, labels travelling with their images, a new order each
  epoch, the same orders for the same seed;
- a fit with learning rate 0 on 10 one-hot examples through a hand-set
  network, whose loss and accuracies are worked out on paper: the epoch mean
  weighs a short last batch by its size, the training accuracy counts each
  prediction against its own label, validation runs without dropout;
- validation, which runs beside the next epoch, measures the weights its
  epoch ended with;
- dead units: zero for every image, not for some;
- main: the test accuracy it reports is the saved model's on the test set
  (a test set made to disagree with validation shows any mix-up), and --seed
  reaches each seeded part (weights, order, dropout masks, augmentation) on its own.

Nothing here needs MNIST except the checks on the shared real run.
"""
import contextlib
import copy
import io
import json
import math

import numpy as np

import model as model_module
import train
from augment import Augmenter
from data import load_mnist
from model import MLP, dead_fraction
from optim import SGD


def quiet(line):
    pass


# ---- a spy: the batches fit hands the model ------------------------------------
class Recorder(MLP):
    """An MLP that remembers the (ids, labels) of every training batch it is
    given; each example's id is its first feature."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches = []

    def forward(self, X, train=False):
        if train:  # a training batch: its labels reach backward next
            self.batch_ids = X[:, 0].astype(int)
        return super().forward(X, train=train)

    def backward(self, y, cache):
        self.batches.append((self.batch_ids, y.copy()))
        return super().backward(y, cache)


def identified(n=50, d=3, seed=0):
    """n examples whose first feature is their index, labels a fixed function of it."""
    X = np.random.default_rng(seed).random((n, d), dtype=np.float32)
    X[:, 0] = np.arange(n)
    return X, np.arange(n) % 3


def batches_of_fit(seed, epochs=4, n=50, batch_size=16):
    X, y = identified(n)
    model = Recorder((X.shape[1], 4, 3), seed=0)
    # Learning rate 0: the weights stay put, only the visiting order is watched.
    train.fit(model, SGD(lr=0.0), (X, y), (X[:0], y[:0]), epochs=epochs,
              batch_size=batch_size, seed=seed, log=quiet)
    steps = -(-n // batch_size)
    assert len(model.batches) == epochs * steps
    return [model.batches[e * steps:(e + 1) * steps] for e in range(epochs)], y


def test_every_epoch_visits_each_example_once_in_a_new_order():
    epochs, y = batches_of_fit(seed=0)
    orders = []
    for batches in epochs:
        assert [len(ids) for ids, _ in batches] == [16, 16, 16, 2]  # the short batch is kept
        order = np.concatenate([ids for ids, _ in batches])
        np.testing.assert_array_equal(np.sort(order), np.arange(50))  # a permutation
        for ids, labels in batches:  # labels move with their images
            np.testing.assert_array_equal(labels, y[ids])
        orders.append(order)
    # Shuffled, and anew every epoch. Two uniform permutations of 50 agree with
    # probability 1/50! (1e-64): equal orders here mean a missing shuffle.
    assert not np.array_equal(orders[0], np.arange(50))
    for a in range(len(orders)):
        for b in range(a):
            assert not np.array_equal(orders[a], orders[b]), (a, b)


def test_batch_order_follows_the_seed():
    first = [np.concatenate([ids for ids, _ in batches]) for batches in batches_of_fit(seed=3)[0]]
    again = [np.concatenate([ids for ids, _ in batches]) for batches in batches_of_fit(seed=3)[0]]
    other = [np.concatenate([ids for ids, _ in batches]) for batches in batches_of_fit(seed=4)[0]]
    for a, b, c in zip(first, again, other):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, c)


# ---- learning rate 0: every figure worked out by hand -----------------------------
# Ten one-hot examples through 10-11-10: W1 is the identity (plus an 11th unit
# that never fires), so example i lights hidden unit i alone, and its logits
# are row i of W2: ln 9 at class PRED[i], 0 elsewhere. Its probabilities are
# then 9/18 = 1/2 for PRED[i] and 1/18 for each other class: the loss is ln 2
# where the label is PRED[i] and ln 18 where it is not.
PRED = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 1])     # never class 0
Y_TRAIN = np.array([1, 2, 3, 5, 6, 7, 8, 9, 0, 2])  # right for the first 3 only
# The epoch's mean loss, each example counted once:
TRAIN_LOSS = (3 * math.log(2) + 7 * math.log(18)) / 10
# Validation: examples 0..5 three times over, right for 0, 1, 3, 5 (4 of 6).
VAL_ROWS = np.tile(np.arange(6), 3)
Y_VAL = np.array([1, 2, 7, 4, 9, 6])[np.tile(np.arange(6), 3)]
# Hidden units 6..9 never fire on validation, nor does unit 10: 5 of 11 dead.
VAL_DEAD = 5 / 11


def hand_set_model(dropout=0.0):
    model = MLP((10, 11, 10), dropout=dropout, seed=0)
    W1 = np.zeros((10, 11), np.float32)
    W1[:, :10] = np.eye(10)
    W2 = np.zeros((11, 10), np.float32)
    W2[np.arange(10), PRED] = np.log(9)
    model.params.update(W1=W1, W2=W2)
    return model


def hand_data():
    X = np.eye(10, dtype=np.float32)
    return (X, Y_TRAIN), (X[VAL_ROWS], Y_VAL)


def test_lr0_fit_loss_and_accuracies_by_hand():
    """Batches of 4, 4 and 2. The epoch's loss is the mean over the 10 examples,
    (3 ln 2 + 7 ln 18) / 10 = 2.231, whatever the order. Weighing the short batch
    like a full one gives the mean of the three batch means instead, which
    equals it only if the last two examples' mean loss equals the overall mean;
    no pair of ln 2 and ln 18 averages to 2.231, so no order hides that mistake.
    The training accuracy is 3/10, validation 4/6, and 5 of the 11 units are dead
    on validation."""
    train_set, val_set = hand_data()
    model = hand_set_model()
    before = {k: v.copy() for k, v in model.params.items()}
    history = train.fit(model, SGD(lr=0.0, momentum=0.9), train_set, val_set, epochs=5,
                        batch_size=4, seed=1, log=quiet)
    for name, value in model.params.items():  # learning rate 0: nothing moved
        np.testing.assert_array_equal(value, before[name])
    np.testing.assert_allclose(history["loss"], [TRAIN_LOSS] * 5, rtol=1e-6)
    assert len(history["iteration_loss"]) == 5 * 3
    # Counting each prediction against another example's label (say, the
    # unshuffled ones) gives 3 only by luck: a uniform order has a 6 % chance of
    # it (counted over all 10! orders), so five epochs all lucky: 8e-7.
    assert history["accuracy"] == [0.3] * 5
    assert history["val_accuracy"] == [4 / 6] * 5
    assert history["dead_relu"] == [[VAL_DEAD]] * 5


def test_validation_runs_without_dropout_and_without_augmentation():
    """Dropout 0.5 on the one lit hidden unit: when it is dropped the logits are
    all 0 and the prediction is class 0, never right here. Validation measured
    with dropout on would lose each of its 12 right answers with probability
    1/2 (and keep all 12 in each of 3 epochs with probability 2**-36); it must
    stay at exactly 4/6 every epoch. Augmentation, too, is for training batches
    only."""
    train_set, val_set = hand_data()
    model = hand_set_model(dropout=0.5)
    seen = []

    def augment(X):  # a spy: records what it is given, returns it unchanged
        seen.append(X.copy())
        return X

    history = train.fit(model, SGD(lr=0.0), train_set, val_set, epochs=3, batch_size=4,
                        seed=0, log=quiet, augment=augment)
    assert history["val_accuracy"] == [4 / 6] * 3
    assert history["dead_relu"] == [[VAL_DEAD]] * 3
    assert [len(X) for X in seen] == [4, 4, 2] * 3  # each training batch, nothing else


def test_each_epochs_validation_is_of_the_weights_that_epoch_ended_with():
    """fit validates epoch k in a second thread while epoch k + 1 trains. Given
    the model itself instead of a copy, it would measure weights the next
    epoch is already changing. Each epoch's val_loss and val_acc must be those
    of a model trained for exactly that many epochs, and the lines must come
    out in order, one per epoch."""
    rng = np.random.default_rng(0)
    X = rng.random((3000, 20), dtype=np.float32)
    y = (X[:, :10].argmax(axis=1))
    train_set, val_set = (X[:2000], y[:2000]), (X[2000:], y[2000:])
    lines = []
    history = train.fit(MLP((20, 64, 10), seed=0), SGD(lr=0.5, momentum=0.9), train_set,
                        val_set, epochs=3, batch_size=8, seed=0, log=lines.append)
    for epochs in (1, 2, 3):
        model = MLP((20, 64, 10), seed=0)
        alone = train.fit(model, SGD(lr=0.5, momentum=0.9), train_set, (X[:0], y[:0]),
                          epochs=epochs, batch_size=8, seed=0, log=quiet)
        probs, cache = model.forward(val_set[0])
        assert history["loss"][epochs - 1] == alone["loss"][-1]
        assert history["val_loss"][epochs - 1] == model.data_loss(val_set[1], cache)
        assert history["val_accuracy"][epochs - 1] == np.mean(probs.argmax(axis=1) == val_set[1])
    assert [line.split()[1] for line in lines] == ["1/3", "2/3", "3/3"]


def test_on_epoch_end_runs_on_the_training_thread_with_no_validation_beside_it():
    """The speed benchmark times other trainers in on_epoch_end, between our
    epochs. Run from the validation thread (as log is), they would run beside
    the next epoch's training and slow both. It must run on fit's own thread,
    after the previous epoch's validation has logged and before this one's
    starts (which, given the time, would log while it sleeps)."""
    import threading
    import time
    rng = np.random.default_rng(0)
    X = rng.random((300, 20), dtype=np.float32)
    y = X[:, :10].argmax(axis=1)
    lines, calls = [], []

    def on_epoch_end(epoch):
        logged_before = len(lines)
        time.sleep(0.05)
        calls.append((epoch, threading.get_ident(), logged_before, len(lines)))

    train.fit(MLP((20, 16, 10), seed=0), SGD(lr=0.1), (X[:200], y[:200]), (X[200:], y[200:]),
              epochs=3, batch_size=20, log=lines.append, on_epoch_end=on_epoch_end)
    main = threading.get_ident()
    assert calls == [(epoch, main, epoch - 1, epoch - 1) for epoch in (1, 2, 3)]
    assert len(lines) == 3


# ---- dead units ----------------------------------------------------------------
def test_dead_fraction_counts_units_silent_for_every_image():
    """Two images, hand-set weights. Layer 1: unit 0 is 0 for both images
    (dead), unit 1 fires for the first only (alive), unit 2 for both. Layer 2:
    unit 0 fires for the first image, unit 1 for neither (its input is exactly 0
    for both: a ReLU output of 0 is silent)."""
    model = MLP((2, 3, 2, 2), seed=0, dtype=np.float64)
    model.params["W1"][:] = [[-1, 1, 1], [-1, -1, 1]]
    model.params["W2"][:] = [[0, 0], [2, 0], [-1, -1]]
    model.params["b2"][:] = [0, 1]
    X = np.eye(2)
    # h1 = [[0, 1, 1], [0, 0, 1]]; z2 = [[1, 0], [-1, 0]]: units (dead, alive, alive), (alive, dead)
    assert dead_fraction(model.forward(X)[1].hidden) == [1 / 3, 1 / 2]
    assert dead_fraction(model.forward(X[:1])[1].hidden) == [1 / 3, 1 / 2]
    assert dead_fraction(model.forward(X[1:])[1].hidden) == [2 / 3, 1.0]


# ---- main: the numbers it reports ------------------------------------------------
def run_main(argv):
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        train.main(argv)
    return printed.getvalue()


def check_reported_accuracies(folder, stdout, data, val_size):
    """results.json and the printed line against the saved model, evaluated here
    on the validation and test images (scaled here, not by data.prepare)."""
    with open(folder / "results.json") as f:
        results = json.load(f)
    model = MLP.load(folder / "model.npz")
    x_train, y_train, x_test, y_test = load_mnist(data)

    def scaled(x):
        return x.reshape(len(x), -1).astype(np.float32) / 255

    val = scaled(x_train[-val_size:]), y_train[-val_size:]
    test = scaled(x_test), y_test
    assert results["test_accuracy"] == model.accuracy(*test)
    assert results["val_accuracy"] == model.accuracy(*val)
    assert results["val_accuracy"] == results["history"]["val_accuracy"][-1]
    assert results["train_loss"] == results["history"]["loss"][-1]
    assert f"Test accuracy: {model.accuracy(*test):.4f}" in stdout
    return results


def test_main_reports_the_saved_models_test_accuracy(tmp_path, quadrants):
    """On data whose test labels disagree with the rule the network learns,
    validation is near 1 and test near 0: a test accuracy taken from the
    validation set, the training set or another model cannot pass."""
    stdout = run_main(["--data", quadrants, "--out", str(tmp_path), "--val-size", "200",
                       "--epochs", "3", "--hidden", "32", "--dropout", "0"])
    results = check_reported_accuracies(tmp_path, stdout, quadrants, 200)
    assert results["val_accuracy"] > 0.9 and results["test_accuracy"] < 0.1


def test_real_run_reports_the_saved_models_accuracies(trained_run, mnist_path):
    """The shared real run (conftest, 3 epochs): the figures it reports are the
    saved model's, and results.json has them all."""
    results = check_reported_accuracies(trained_run.folder, trained_run.stdout, mnist_path, 1000)
    for key in ("test_accuracy", "val_accuracy", "train_loss", "epochs", "seconds_per_epoch",
                "train_seconds", "hyperparameters", "seed", "history"):
        assert key in results
    assert results["epochs"] == 3 and results["sizes"] == [784, 128, 64, 10]
    assert trained_run.model.sizes == (784, 128, 64, 10)
    assert (trained_run.folder / "loss_curve.png").stat().st_size > 10_000


# ---- main: --seed reaches every seeded part, each on its own --------------------------
PROBE = np.zeros((4, 784), np.float32)
PROBE[:, 300:320] = 1  # a bar for the augmenter to move


def seeded_parts(monkeypatch, tmp_path, data, seed):
    """Run main with dropout and augmentation on; return what each seeded part
    produced: the initial weights, the first epoch's order (its labels), the
    first dropout masks, and the augmenter's transform of a fixed probe."""
    parts = {}

    class SpyMLP(MLP):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            parts["weights"] = np.concatenate([v.ravel() for v in self.params.values()])
            parts["order"] = []

        def backward(self, y, cache):
            if len(parts["order"]) < 8:  # the first epoch's 8 batches
                parts["order"].append(y.copy())
            return super().backward(y, cache)

    class SpyAugmenter(Augmenter):
        def __call__(self, X):
            if "augmentation" not in parts:  # the transform it is about to draw
                parts["augmentation"] = Augmenter.__call__(copy.deepcopy(self), PROBE)
            out = super().__call__(X)
            parts["augmented_batches"] = parts.get("augmented_batches", 0) + (out is not X)
            return out

    masks = []
    real_dropout = model_module.dropout_forward

    def spy_dropout(h, p, rng):
        out, mask = real_dropout(h, p, rng)
        if len(masks) < 2:  # the first batch's two hidden layers
            masks.append(mask.copy())
        return out, mask

    monkeypatch.setattr(train, "MLP", SpyMLP)
    monkeypatch.setattr(train, "Augmenter", SpyAugmenter)
    monkeypatch.setattr(model_module, "dropout_forward", spy_dropout)
    out = tmp_path / f"seed{seed}-{len(list(tmp_path.iterdir()))}"
    # 500 training images in batches of 64: 8 steps per epoch.
    run_main(["--data", data, "--out", str(out), "--val-size", "200", "--epochs", "2",
              "--hidden", "16", "8", "--dropout", "0.3", "--shift", "2", "--rotate", "10",
              "--clean-epochs", "1", "--optimizer", "adam", "--lr", "1e-3",
              "--seed", str(seed)])
    parts["dropout masks"] = np.concatenate([m.ravel() for m in masks])
    parts["order"] = np.concatenate(parts["order"])
    with open(out / "results.json") as f:
        parts["results"] = json.load(f)
    return parts


def test_seed_reaches_each_seeded_part(monkeypatch, tmp_path, quadrants):
    a, again, b = (seeded_parts(monkeypatch, tmp_path, quadrants, seed) for seed in (5, 5, 6))
    for part in ("weights", "order", "dropout masks", "augmentation"):
        np.testing.assert_array_equal(a[part], again[part], err_msg=part)  # same seed, same
        assert not np.array_equal(a[part], b[part]), f"{part} ignores --seed"
    # --clean-epochs 1 of 2: the first epoch's 8 batches augmented, the last epoch's not.
    assert a["augmented_batches"] == 8
    assert a["results"]["seed"] == 5 and a["results"]["hyperparameters"]["optimizer"] == "adam"
