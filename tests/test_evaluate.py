"""experiments/evaluate.py: its numbers, its pictures, and the rotation it uses."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from experiments import evaluate
from conftest import run_main, run_script
from model import MLP
from handwriting.preprocess import rotate

LIMIT = 1000  # test images experiments/evaluate.py looks at here: about 100 per class, and quick
PICTURES = ["confusion_matrix.png", "mistakes.png", "weights.png", "robustness.png",
            "dead_relu.png"]


# ---- rotation --------------------------------------------------------------
@pytest.fixture
def images():
    return np.random.default_rng(0).random((6, 28, 28)).astype(np.float32)


def test_rotation_by_right_angles_moves_pixels_exactly(images):
    np.testing.assert_allclose(rotate(images, 0), images, atol=1e-6)
    np.testing.assert_allclose(rotate(images, 90), np.rot90(images, 1, axes=(1, 2)), atol=1e-5)
    np.testing.assert_allclose(rotate(images, -90), np.rot90(images, -1, axes=(1, 2)), atol=1e-5)
    np.testing.assert_allclose(rotate(images, 180), images[:, ::-1, ::-1], atol=1e-5)
    np.testing.assert_allclose(rotate(images, 360), images, atol=1e-5)
    wide = images[:, :20, :]  # not square: 180 degrees still maps the grid onto itself
    np.testing.assert_allclose(rotate(wide, 180), wide[:, ::-1, ::-1], atol=1e-5)


def test_rotation_of_a_batch_is_the_rotation_of_each_image(images):
    batch = rotate(images, 23)
    assert batch.shape == images.shape and batch.dtype == images.dtype
    for image, rotated in zip(images, batch):
        np.testing.assert_allclose(rotate(image, 23), rotated, atol=1e-6)


def test_rotation_is_bilinear_and_counter_clockwise():
    # A point right of the centre goes up (to a smaller row) when turned
    # counter-clockwise by 90 degrees.
    image = np.zeros((9, 9))
    image[4, 7] = 1
    assert np.unravel_index(rotate(image, 90).argmax(), (9, 9)) == (1, 4)
    # Bilinear interpolation reproduces a linear ramp exactly wherever all four
    # neighbours exist, so ramp(x) turned by t equals the turned ramp.
    y, x = np.mgrid[0:29, 0:29] - 14.0
    t = np.deg2rad(30)
    turned = rotate(x + 100, 30)
    expected = x * np.cos(t) - y * np.sin(t) + 100
    inner = x ** 2 + y ** 2 < 12 ** 2
    np.testing.assert_allclose(turned[inner], expected[inner], atol=1e-9)
    # And ink that leaves the frame is gone, not wrapped round.
    assert rotate(np.ones((10, 10)), 45)[0, 0] == 0


def test_rotate_there_and_back_keeps_a_centred_digit(mnist_arrays):
    digits = mnist_arrays[2][:50].astype(np.float64) / 255
    back = rotate(rotate(digits, 20), -20)
    # Two bilinear resamplings blur a little; nothing moves.
    corr = [np.corrcoef(a.ravel(), b.ravel())[0, 1] for a, b in zip(digits, back)]
    assert min(corr) > 0.9
    np.testing.assert_allclose(back.sum(axis=(1, 2)), digits.sum(axis=(1, 2)), rtol=0.05)


# ---- numbers ---------------------------------------------------------------
def test_confusion_matrix_and_scores_small_example():
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    counts = evaluate.confusion_matrix(y_true, y_pred, num_classes=4)
    assert counts.sum() == 6 and counts[0, 0] == 2 and counts[0, 1] == 1 and counts[1, 2] == 1
    precision, recall, support = evaluate.per_class_scores(counts)
    np.testing.assert_allclose(recall, [2 / 3, 1 / 2, 1, 0])
    np.testing.assert_allclose(precision, [1, 1 / 2, 1 / 2, 0])  # class 3: never predicted
    np.testing.assert_array_equal(support, [3, 2, 1, 0])
    assert sorted(evaluate.confused_pairs(counts)) == [(0, 1, 1), (1, 2, 1)]


def test_noise_is_clipped_and_seeded():
    x = np.full((100, 784), 0.5, np.float32)
    a = evaluate.add_noise(x, 0.3, np.random.default_rng(1))
    b = evaluate.add_noise(x, 0.3, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 1 and a.dtype == np.float32
    assert 0.2 < a.std() < 0.3  # clipping trims the tails of std 0.3


class Spy:
    """Stands in for a model: remembers the images it is asked to score."""

    def __init__(self):
        self.seen = []

    def accuracy(self, X, y):
        self.seen.append(X.copy())
        return 0.5


def test_robustness_scores_the_stated_noise_and_turns_both_ways(images):
    spy = Spy()
    y = np.zeros(len(images), int)
    rob = evaluate.robustness(spy, images, y, noise_stds=[0.0, 0.05], angles=[0, 30], seed=0)
    assert len(spy.seen) == 2 + 2 * 2
    clean, noisy, ccw0, ccw30, cw0, cw30 = spy.seen
    flat = images.reshape(len(images), -1)
    np.testing.assert_array_equal(clean, flat)
    # Noise of std 0.05 on pixels uniform in [0, 1]: clipping at the two ends
    # removes 2 * E|Z|**3 / 6 * std**3 = 0.53 * std**3 of the variance, leaving a
    # std of 0.0493; 4704 values measure it to +-0.0005 (one standard error).
    assert 0.045 < np.std(noisy - flat) <= 0.0515
    np.testing.assert_array_equal(ccw0, flat)
    np.testing.assert_array_equal(cw0, flat)
    np.testing.assert_allclose(ccw30, rotate(images, 30).reshape(len(images), -1))
    np.testing.assert_allclose(cw30, rotate(images, -30).reshape(len(images), -1))
    assert rob["angle_degrees"] == [0, 30] and rob["noise_std"] == [0.0, 0.05]


# ---- the whole run ---------------------------------------------------------
@pytest.fixture(scope="module")
def evaluated(trained_run, mnist_path, tmp_path_factory):
    """experiments/evaluate.py run as a user would on the model of the shared real run
    (conftest's trained_run): (out folder, evaluation.json, stdout)."""
    out = tmp_path_factory.mktemp("eval")
    result = run_script("experiments/evaluate.py", "--model", trained_run.folder / "model.npz", "--out", out,
                        "--data", mnist_path, "--limit", LIMIT)
    assert result.returncode == 0, result.stderr
    with open(out / "evaluation.json") as f:
        return out, json.load(f), result.stdout


def test_every_picture_is_written(evaluated):
    out, _, _ = evaluated
    for name in PICTURES:
        with Image.open(out / name) as image:
            assert image.format == "PNG" and min(image.size) > 200, name
    assert not [f for f in os.listdir(out) if f.startswith(".tmp-")]


def test_evaluation_numbers_agree_with_the_model(evaluated, trained_run, mnist_path):
    out, ev, stdout = evaluated
    from data import load_mnist
    _, _, x_test, y_test = load_mnist(mnist_path)
    x_test, y_test = x_test[:LIMIT], y_test[:LIMIT]
    X = x_test.reshape(len(x_test), -1).astype(np.float32) / 255
    model = MLP.load(trained_run.folder / "model.npz")
    pred = model.predict(X)

    counts = np.array(ev["confusion_matrix"])
    assert counts.shape == (10, 10) and counts.sum() == len(y_test)
    np.testing.assert_array_equal(counts.sum(axis=1), np.bincount(y_test, minlength=10))
    np.testing.assert_array_equal(counts.sum(axis=0), np.bincount(pred, minlength=10))
    assert ev["test_accuracy"] == pytest.approx(np.mean(pred == y_test))
    assert np.trace(counts) == np.sum(pred == y_test)
    for c in range(10):
        assert ev["per_class"][str(c)]["recall"] == pytest.approx(
            np.mean(pred[y_test == c] == c))
        assert ev["per_class"][str(c)]["precision"] == pytest.approx(
            np.mean(y_test[pred == c] == c))

    mistakes = ev["mistakes"]
    assert len(mistakes) == np.sum(pred != y_test)
    confidences = [m["confidence"] for m in mistakes]
    assert confidences == sorted(confidences, reverse=True)
    m = mistakes[0]
    assert pred[m["index"]] == m["predicted"] != m["true"] == y_test[m["index"]]

    rob = ev["robustness"]
    clean = ev["test_accuracy"]
    assert rob["noise_std"][0] == 0 and rob["angle_degrees"][0] == 0
    assert rob["noise_accuracy"][0] == pytest.approx(clean)
    assert rob["rotation_accuracy_ccw"][0] == pytest.approx(clean)
    assert rob["noise_accuracy"][-1] < clean - 0.2
    ninety = rob["angle_degrees"].index(90)
    assert max(rob["rotation_accuracy_ccw"][ninety], rob["rotation_accuracy_cw"][ninety]) < 0.4

    assert ev["dead_relu_history"] == trained_run.results["history"]["dead_relu"]
    assert [len(a) for a in ev["active_fraction_test"]] == [128, 64]

    # The terminal table: a header, one row per digit, the averages.
    table = [line for line in stdout.splitlines() if line[:5].strip().isdigit()]
    assert [int(line.split()[0]) for line in table] == list(range(10))
    assert float(table[3].split()[1]) == pytest.approx(ev["per_class"]["3"]["precision"],
                                                       abs=1e-4)


def run_evaluate(*args):
    """``python -m experiments.evaluate ARGS`` as a user sees it, in this process
    (the whole run as a new process: the ``evaluated`` fixture)."""
    return run_main("experiments/evaluate.py", *args)


def test_bad_model_or_results_is_one_line_and_writes_nothing(tmp_path, trained_run, mnist_path):
    (tmp_path / "broken.npz").write_bytes(b"garbage")
    (tmp_path / "broken.json").write_text("{not json")
    cases = [["--model", tmp_path / "missing.npz"],
             ["--model", tmp_path / "broken.npz"],
             ["--model", trained_run.folder / "model.npz", "--results", tmp_path / "broken.json"],
             ["--model", trained_run.folder / "model.npz", "--results", tmp_path / "nope.json"]]
    for i, case in enumerate(cases):
        out = tmp_path / f"out{i}"
        result = run_evaluate(*case, "--out", out, "--data", mnist_path)
        assert result.returncode != 0 and "Traceback" not in result.stderr
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
        assert not out.exists() or not os.listdir(out)


def test_without_results_json_everything_but_the_dead_relu_plot(tmp_path, trained_run,
                                                                 mnist_path):
    model = tmp_path / "model.npz"  # no results.json beside it
    model.write_bytes((trained_run.folder / "model.npz").read_bytes())
    result = run_evaluate("--model", model, "--out", tmp_path / "out", "--data", mnist_path,
                          "--limit", 500)
    assert result.returncode == 0, result.stderr
    assert "dead_relu.png" in result.stderr  # says why it is missing
    written = set(os.listdir(tmp_path / "out"))
    assert written == set(PICTURES) - {"dead_relu.png"} | {"evaluation.json"}
    with open(tmp_path / "out" / "evaluation.json") as f:
        assert np.sum(json.load(f)["confusion_matrix"]) == 500  # --limit
