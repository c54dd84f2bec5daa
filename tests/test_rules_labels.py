"""Rule: labels stay with their images on every path through training.

Each image's label is written in the image (conftest.quadrant_images: a bright
square in quadrant k means class k), so a network trained on the right pairs
reaches near 100 % within an epoch or two, and one trained on pairs that drifted
apart (an image from one position, the label from another) stays near chance.
Every path is checked four ways: each (image, label) pair the network is
trained on, read back (the label must be the quadrant lit in the image, after
augmentation too: one drifted pair fails); the training accuracy fit counts
(on its batches as trained); the accuracy of the trained network on the clean
training images; and on validation images.

Paths covered (train.fit, parametrised): no augmentation; augmentation (the
Augmenter of train.main: shifts, rotations, scaling, elastic, slant, stroke
width) with and without clean last epochs; dropout; batch normalisation; all
of them together; SGD with momentum; batch sizes 1, 64 (a short last batch of
60), 699 (a last batch of one image) and 700 (one batch); and train.main
itself with augmentation, dropout and batch normalisation, through
results.json. A control shows that the check can fail: scrambled labels stay
near chance.
"""
import contextlib
import io
import json
import math

import numpy as np
import pytest

import train
from augment import Augmenter
from conftest import quadrant_images
from model import MLP
from optim import SGD, Adam

N_TRAIN = 700
AUGMENT = dict(shift=2, rotate=10, scale=0.1, elastic_alpha=8, elastic_sigma=4, slant=10,
               thicken=0.5, thin=0.5)
# name: (MLP options, fit options, Augmenter options or None)
PATHS = {
    "plain": ({}, {}, None),
    "augmented": ({}, {}, AUGMENT),
    "augmented, last epoch clean": ({}, {}, dict(AUGMENT, stop_after=11)),
    "dropout": (dict(dropout=0.3), {}, None),
    "batch norm": (dict(batchnorm=True), {}, None),
    "all together": (dict(dropout=0.3, batchnorm=True), {}, AUGMENT),
    "sgd momentum": ({}, dict(optimizer=SGD(lr=0.05, momentum=0.9)), None),
    "batch 1": ({}, dict(batch_size=1), None),
    "batch 699: a last batch of one": ({}, dict(batch_size=699), None),
    "batch 700: one batch": ({}, dict(batch_size=700), None),
}


@pytest.fixture(scope="module")
def written_labels():
    """(train, val): flattened quadrant images in [0, 1] and their labels."""
    rng = np.random.default_rng(3)
    return tuple((x.reshape(len(x), -1).astype(np.float32) / 255, y.astype(np.int64))
                 for x, y in (quadrant_images(rng, N_TRAIN), quadrant_images(rng, 200)))


def lit_quadrant(images):
    """The quadrant (0..3) of each flattened 28x28 image holding the most bright ink."""
    bright = (images.reshape(-1, 2, 14, 2, 14) > 0.7).sum(axis=(2, 4))
    return bright.reshape(-1, 4).argmax(axis=1)


def spy_on_pairs(model):
    """Record what ``model`` trains on: [(images, labels)] of each step, from its
    training forward pass and its backward pass."""
    pairs, forward, backward = [], model.forward, model.backward

    def recording_forward(X, train=False):
        if train:
            pairs.append([X.copy(), None])
        return forward(X, train)

    def recording_backward(y, cache):
        pairs[-1][1] = np.array(y)
        return backward(y, cache)

    model.forward, model.backward = recording_forward, recording_backward
    return pairs


def train_on(data, model_options, fit_options, augment_options):
    """(history, model, the pairs it trained on) after fitting a 784-32-4
    network for at least 2 epochs and 40 steps."""
    (X, y), val = data
    fit_options = dict(dict(batch_size=64, optimizer=Adam(lr=3e-3)), **fit_options)
    batch_size = fit_options["batch_size"]
    epochs = max(2, math.ceil(40 / math.ceil(len(X) / batch_size)))
    model = MLP((784, 32, 4), seed=0, **model_options)
    augment = None if augment_options is None else Augmenter(seed=0, **augment_options)
    pairs = spy_on_pairs(model)
    history = train.fit(model, fit_options.pop("optimizer"), (X, y), val, epochs,
                        fit_options.pop("batch_size"), seed=0, log=lambda line: None,
                        augment=augment)
    return history, model, pairs


@pytest.mark.parametrize("path", PATHS)
def test_labels_stay_with_their_images(written_labels, path):
    history, model, pairs = train_on(written_labels, *PATHS[path])
    (X, y), (X_val, y_val) = written_labels
    assert len(pairs) == len(history["loss"]) * math.ceil(len(X) / len(pairs[0][0]))
    for images, labels in pairs:
        np.testing.assert_array_equal(lit_quadrant(images), labels)
    assert history["accuracy"][-1] > 0.9, history["accuracy"]
    assert model.accuracy(X, y) > 0.95
    assert history["val_accuracy"][-1] > 0.95, history["val_accuracy"]


@pytest.mark.parametrize("path", ["plain", "augmented"])
def test_control_scrambled_labels_stay_near_chance(written_labels, path):
    """What the test above catches: labels parted from their images."""
    (X, y), val = written_labels
    scrambled = ((X, np.random.default_rng(0).permutation(y)), val)
    history, _, pairs = train_on(scrambled, *PATHS[path])
    assert np.mean(lit_quadrant(pairs[0][0]) == pairs[0][1]) < 0.6
    assert history["accuracy"][-1] < 0.6 and history["val_accuracy"][-1] < 0.6


def test_train_main_with_augmentation_dropout_and_batchnorm(quadrants, tmp_path):
    """The whole script: its Augmenter, the network it builds, the accuracies it
    writes (conftest's quadrants: near 1 on validation)."""
    with contextlib.redirect_stdout(io.StringIO()):
        train.main(["--data", quadrants, "--val-size", "200", "--hidden", "32",
                    "--epochs", "3", "--batch-size", "32", "--lr", "3e-3",
                    "--shift", "2", "--rotate", "10", "--elastic-alpha", "8",
                    "--dropout", "0.3", "--batchnorm", "--clean-epochs", "1",
                    "--out", str(tmp_path)])
    history = json.loads((tmp_path / "results.json").read_text())["history"]
    assert history["accuracy"][-1] > 0.9 and history["val_accuracy"][-1] > 0.95, history
