"""Tests for the extensions of issue 6: activations, batch normalisation,
learning-rate schedules, data augmentation, deeper/wider networks, presets.

Gradient checks run in float64 on tiny networks; nothing here needs MNIST.
"""
import numpy as np
import pytest

import layers
import train
from augment import Augmenter, affine_elastic, gaussian_blur_matrix
from gradient_check import numerical_gradient, relative_error
from model import ACTIVATIONS, MLP
from optim import SGD, cosine, make_schedule, step_decay, with_warmup


# ---- gradient checks ---------------------------------------------------------
def check_gradients(model, X, y, train, skip=()):
    """Max relative error between backward() and central differences over
    every parameter; dropout masks are replayed identically for each call."""
    # Nonzero biases: with all biases 0 an example whose ReLUs are all off
    # gives z = 0 exactly in the next layer, right on the kink of the ReLU.
    rng = np.random.default_rng(99)
    for name, value in model.params.items():
        if name.startswith("b"):
            value[:] = rng.normal(0, 0.1, value.shape)
    state = model.rng.bit_generator.state

    def loss():
        model.rng.bit_generator.state = state
        return model.loss(X, y, train=train)[0]

    model.rng.bit_generator.state = state
    _, grads = model.loss(X, y, train=train)
    assert set(grads) == set(model.params)
    errors = {}
    for name, value in model.params.items():
        numeric = numerical_gradient(loss, value)
        if name in skip:
            # Biases just before batch norm: no effect on the loss at all.
            assert np.abs(numeric).max() < 1e-8 and np.abs(grads[name]).max() < 1e-12
            continue
        errors[name] = relative_error(grads[name], numeric)
    return errors


def tiny_problem(seed=0, n=12, d=7, classes=4):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, classes, n)


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("train_mode", [False, True])
def test_gradients_each_activation_with_l2_and_dropout(activation, train_mode):
    X, y = tiny_problem()
    model = MLP((7, 6, 5, 4), activation=activation, l2=0.03, dropout=0.3,
                seed=1, dtype=np.float64)
    errors = check_gradients(model, X, y, train_mode)
    assert max(errors.values()) < 1e-5, errors


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("train_mode", [False, True])
def test_gradients_with_batchnorm(activation, train_mode):
    X, y = tiny_problem(seed=2)
    model = MLP((7, 6, 5, 4), activation=activation, batchnorm=True, l2=0.03,
                dropout=0.2, seed=3, dtype=np.float64)
    rng = np.random.default_rng(4)
    # Non-trivial scales and running statistics, so every term is exercised.
    for i, stats in enumerate(model.bn_running, start=1):
        width = len(stats["mean"])
        model.params[f"gamma{i}"][:] = rng.uniform(0.5, 1.5, width)
        model.params[f"beta{i}"][:] = rng.normal(0, 0.3, width)
        stats["mean"][:] = rng.normal(0, 0.5, width)
        stats["var"][:] = rng.uniform(0.5, 2.0, width)
    skip = ("b1", "b2") if train_mode else ()
    errors = check_gradients(model, X, y, train_mode, skip=skip)
    assert max(errors.values()) < 1e-5, errors


def test_batchnorm_layer_gradient_directly():
    rng = np.random.default_rng(5)
    z = rng.normal(3, 2, (10, 4))
    gamma, beta = rng.uniform(0.5, 2, 4), rng.normal(0, 1, 4)
    weights = rng.standard_normal((10, 4))  # loss = sum(out * weights)
    for train_mode in (True, False):
        running = {"mean": rng.normal(0, 1, 4), "var": rng.uniform(0.5, 2, 4)}

        def loss():
            frozen = {k: v.copy() for k, v in running.items()}
            return float(np.sum(layers.batchnorm_forward(z, gamma, beta, frozen,
                                                         train_mode)[0] * weights))

        _, cache = layers.batchnorm_forward(z, gamma, beta, dict(running), train_mode)
        dz, dgamma, dbeta = layers.batchnorm_backward(weights, cache)
        for analytic, x in ((dz, z), (dgamma, gamma), (dbeta, beta)):
            assert relative_error(analytic, numerical_gradient(loss, x)) < 1e-7


# ---- activations and initialisation ------------------------------------------
def test_default_model_unchanged_by_the_options():
    """relu without batch norm draws the same He weights as before the options."""
    model = MLP(seed=7)
    rng = np.random.default_rng(7)
    for i, (fan_in, fan_out) in enumerate([(784, 128), (128, 64), (64, 10)], start=1):
        expected = (rng.standard_normal((fan_in, fan_out)) * np.sqrt(2 / fan_in))
        np.testing.assert_array_equal(model.params[f"W{i}"], expected.astype(np.float32))
    assert sorted(model.params) == ["W1", "W2", "W3", "b1", "b2", "b3"]
    assert model.bn_running == []


@pytest.mark.parametrize("activation, std", [
    ("relu", lambda fi, fo: np.sqrt(2 / fi)),
    ("leaky_relu", lambda fi, fo: np.sqrt(2 / (1 + layers.LEAKY_SLOPE ** 2) / fi)),
    ("tanh", lambda fi, fo: np.sqrt(2 / (fi + fo))),
    ("sigmoid", lambda fi, fo: np.sqrt(2 / (fi + fo))),
])
def test_initialisation_matches_activation(activation, std):
    model = MLP((300, 200, 10), activation=activation, seed=0, dtype=np.float64)
    for i, (fi, fo) in enumerate([(300, 200), (200, 10)], start=1):
        W = model.params[f"W{i}"]
        # The sample std of n normal draws errs by 1 / sqrt(2 n) (relative) per
        # standard error: allow five (1.4 % for W1, 7.9 % for W2's 2000 weights).
        assert abs(W.std() / std(fi, fo) - 1) < 5 / np.sqrt(2 * W.size)
    # The same underlying random numbers as the ReLU network, only scaled.
    relu = MLP((300, 200, 10), seed=0, dtype=np.float64)
    ratio = model.params["W1"] / relu.params["W1"]
    np.testing.assert_allclose(ratio, ratio.flat[0])


def test_activation_values():
    z = np.array([[-1000.0, -2.0, 0.0, 3.0, 1000.0]])
    with np.errstate(all="raise"):  # no overflow for large |z|
        sig, _ = layers.sigmoid_forward(z)
        tanh, _ = layers.tanh_forward(z)
        leaky, _ = layers.leaky_relu_forward(z)
    np.testing.assert_allclose(sig, 1 / (1 + np.exp(-np.clip(z, -500, 500))), atol=1e-12)
    np.testing.assert_allclose(tanh, np.tanh(z))
    np.testing.assert_allclose(leaky, np.where(z > 0, z, 0.01 * z))


def test_unknown_activation_is_rejected():
    with pytest.raises(ValueError, match="activation"):
        MLP(activation="swish")


# ---- batch normalisation behaviour -----------------------------------------------
def test_batchnorm_train_mode_normalises_each_unit():
    rng = np.random.default_rng(0)
    z = rng.normal(5, 3, (200, 6))
    gamma, beta = np.full(6, 2.0), np.full(6, -1.0)
    running = {"mean": np.zeros(6), "var": np.ones(6)}
    out, _ = layers.batchnorm_forward(z, gamma, beta, running, train=True)
    np.testing.assert_allclose(out.mean(axis=0), -1.0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 2.0, rtol=1e-4)
    # The running averages moved 10 % of the way to the batch statistics.
    np.testing.assert_allclose(running["mean"], 0.1 * z.mean(axis=0))
    np.testing.assert_allclose(running["var"], 0.9 + 0.1 * z.var(axis=0))


def test_batchnorm_running_statistics_converge_and_eval_is_per_example():
    X, y = tiny_problem(seed=1, n=64)
    model = MLP((7, 5, 4), batchnorm=True, seed=0, dtype=np.float64)
    for _ in range(200):
        model.forward(X, train=True)  # batch statistics: updates the running ones
    z = X @ model.params["W1"] + model.params["b1"]
    np.testing.assert_allclose(model.bn_running[0]["mean"], z.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(model.bn_running[0]["var"], z.var(axis=0), rtol=1e-6)
    # Evaluation: a row's prediction does not depend on the rest of its batch.
    together = model.forward(X)[0]
    alone = np.concatenate([model.forward(X[i:i + 1])[0] for i in range(len(X))])
    np.testing.assert_allclose(together, alone, rtol=1e-12)
    # Training mode does depend on the batch (that is what it normalises over).
    assert not np.allclose(model.forward(X[:8], train=True)[0], model.forward(X, train=True)[0][:8])


def test_save_load_round_trips_batchnorm_and_activation(tmp_path):
    X, y = tiny_problem(seed=3, n=32)
    model = MLP((7, 6, 5, 4), activation="tanh", batchnorm=True, dropout=0.1, seed=2)
    X = X.astype(np.float32)
    opt = SGD(lr=0.1, momentum=0.9)
    for _ in range(20):
        _, grads = model.loss(X, y, train=True)
        opt.step(model.params, grads)
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = MLP.load(path)
    assert loaded.activation == "tanh" and loaded.batchnorm
    for a, b in zip(model.bn_running, loaded.bn_running):
        np.testing.assert_array_equal(a["mean"], b["mean"])
        np.testing.assert_array_equal(a["var"], b["var"])
    np.testing.assert_array_equal(model.forward(X)[0], loaded.forward(X)[0])
    # A file whose running statistics do not fit is refused, naming the file.
    with np.load(path) as f:
        broken = dict(f)
    broken["bn_mean1"] = np.zeros(3, dtype=np.float32)
    np.savez(tmp_path / "broken.npz", **broken)
    with pytest.raises(ValueError, match="broken.npz.*bn_mean1"):
        MLP.load(tmp_path / "broken.npz")


def test_batchnorm_network_learns():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 10)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    model = MLP((10, 16, 2), batchnorm=True, seed=0)
    opt = SGD(lr=0.1, momentum=0.9)
    for _ in range(100):
        _, grads = model.loss(X, y, train=True)
        opt.step(model.params, grads)
    assert model.accuracy(X, y) > 0.95


# ---- learning-rate schedules ---------------------------------------------------
def test_step_decay_by_hand():
    schedule = step_decay(every=0.25, factor=0.5)
    values = [schedule(p) for p in (0.0, 0.2, 0.25, 0.5, 0.74, 0.75, 0.99)]
    np.testing.assert_allclose(values, [1, 1, 0.5, 0.25, 0.25, 0.125, 0.125])


def test_warmup_then_cosine_by_hand():
    schedule = with_warmup(cosine, 0.2)
    np.testing.assert_allclose(
        [schedule(p) for p in (0.0, 0.1, 0.2, 0.6, 1.0)],
        [0.0, 0.5, 1.0, 0.5, 0.0], atol=1e-12)


def test_make_schedule_counts_in_epochs():
    # 10 epochs, 2 of warm-up, steps every 4 epochs by 0.1.
    step = make_schedule("step", epochs=10, warmup=2, step_size=4, step_factor=0.1)
    # After warm-up the step schedule sees the remaining 8 epochs as 0..1,
    # and its steps are at 4/10 of that (the step size is a fraction of all epochs).
    assert step(0.1) == pytest.approx(0.5)
    assert step(0.2) == pytest.approx(1.0)
    assert step(0.2 + 0.8 * 0.39) == pytest.approx(1.0)
    assert step(0.2 + 0.8 * 0.41) == pytest.approx(0.1)
    assert step(0.2 + 0.8 * 0.81) == pytest.approx(0.01)
    const = make_schedule("constant", epochs=10)
    assert [const(p) for p in (0, 0.5, 0.99)] == [1, 1, 1]
    cos = make_schedule("cosine", epochs=4)
    assert cos(0.5) == pytest.approx(0.5)
    with pytest.raises(ValueError):
        with_warmup(cosine, 1.0)


def test_schedule_drives_the_learning_rate_in_fit():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 5)).astype(np.float32)
    y = rng.integers(0, 3, 40)
    seen = []

    class Recording(SGD):
        def step(self, params, grads):
            seen.append(self.lr)
            super().step(params, grads)

    model = MLP((5, 4, 3), seed=0)
    schedule = make_schedule("step", epochs=4, warmup=1, step_size=2, step_factor=0.5)
    train.fit(model, Recording(lr=0.2), (X, y), (X[:0], y[:0]), epochs=4, batch_size=10,
              schedule=schedule, log=lambda line: None)
    # 4 steps per epoch, 16 in all; warm-up over the first 4 steps (0, .25, .5, .75).
    expected = [0.2 * schedule(s / 16) for s in range(16)]
    np.testing.assert_allclose(seen, expected)
    np.testing.assert_allclose(seen[:5], [0, 0.05, 0.1, 0.15, 0.2])


# ---- data augmentation -----------------------------------------------------------
def blob_images(n, seed=0):
    """Digit-like test images: a few Gaussian strokes near the centre, in [0, 1]."""
    rng = np.random.default_rng(seed)
    r, c = np.mgrid[0:28, 0:28]
    images = np.zeros((n, 28, 28))
    for _ in range(3):
        cr, cc = rng.uniform(9, 19, (2, n, 1, 1))
        images += np.exp(-((r - cr) ** 2 + (c - cc) ** 2) / (2 * 2.0 ** 2))
    return np.clip(images, 0, 1).reshape(n, 784).astype(np.float32)


def test_no_transform_is_identity():
    X = blob_images(5)
    np.testing.assert_array_equal(affine_elastic(X), X)
    np.testing.assert_array_equal(affine_elastic(X, angle=0.0, scale=1.0), X)
    assert Augmenter()(X) is X  # all off: the batch passes through untouched


@pytest.mark.parametrize("dr, dc", [(2, -1), (-3, 0), (0, 1)])
def test_integer_shift_moves_pixels_exactly(dr, dc):
    X = np.random.default_rng(1).random((4, 784), dtype=np.float32)
    out = affine_elastic(X, shift_rows=dr, shift_cols=dc).reshape(4, 28, 28)
    src = X.reshape(4, 28, 28)
    expected = np.zeros_like(src)
    rs, rd = (slice(0, 28 - dr), slice(dr, 28)) if dr >= 0 else (slice(-dr, 28), slice(0, 28 + dr))
    cs, cd = (slice(0, 28 - dc), slice(dc, 28)) if dc >= 0 else (slice(-dc, 28), slice(0, 28 + dc))
    expected[:, rd, cd] = src[:, rs, cs]
    np.testing.assert_array_equal(out, expected)  # exact, and zeros fill the edge


def test_quarter_turn_is_rot90():
    X = np.random.default_rng(2).random((3, 784))
    out = affine_elastic(X, angle=np.pi / 2).reshape(3, 28, 28)
    np.testing.assert_allclose(out, np.rot90(X.reshape(3, 28, 28), 1, axes=(1, 2)), atol=1e-9)


def test_per_image_parameters_match_one_at_a_time():
    """Vectorised over the batch: each image gets its own transformation."""
    X = blob_images(6, seed=3)
    rng = np.random.default_rng(4)
    angle, scale = rng.uniform(-0.3, 0.3, 6), rng.uniform(0.9, 1.1, 6)
    sr, sc = rng.uniform(-2, 2, (2, 6))
    dr, dc = rng.normal(0, 0.5, (2, 6, 28, 28)).astype(np.float32)
    batch = affine_elastic(X, angle, scale, sr, sc, dr, dc)
    for i in range(6):
        one = affine_elastic(X[i:i + 1], angle[i], scale[i], sr[i], sc[i],
                             dr[i:i + 1], dc[i:i + 1])
        np.testing.assert_allclose(batch[i:i + 1], one, atol=1e-6)


@pytest.mark.parametrize("kwargs", [
    dict(shift=2),
    dict(rotate=15),
    dict(scale=0.1),
    dict(elastic_alpha=34, elastic_sigma=4),
    dict(shift=2, rotate=10, scale=0.1, elastic_alpha=20, elastic_sigma=4),
])
def test_augmenter_properties(kwargs):
    X = blob_images(50, seed=5)
    augment = Augmenter(seed=3, **kwargs)
    out = augment(X)
    assert out.shape == X.shape and out.dtype == X.dtype
    assert out.min() >= 0 and out.max() <= 1 + 1e-6  # bilinear: a convex mix
    assert not np.allclose(out, X)  # it did something ...
    mass = out.sum(axis=1) / X.sum(axis=1)
    # ... gently: ink is moved, not made. Limits from the maths, not from one
    # draw. Shifts and turns keep each image's ink (Jacobian 1; bilinear sampling
    # of these smooth strokes errs by < 0.1 %). A size factor k in [1 - s, 1 + s]
    # multiplies it by k**2. An elastic warp stretches and squeezes locally, so a
    # single image's ink can double; but the displacement at every pixel has the
    # same distribution, and the expected image is the original blurred by it,
    # which keeps the ink: on average over images it is kept (times E[k**2] =
    # 1 + s**2 / 3 with scaling), up to the sampling error of a mean of 50.
    s = kwargs.get("scale", 0.0)
    if not kwargs.get("elastic_alpha"):
        assert np.all((mass > (1 - s) ** 2 - 0.01) & (mass < (1 + s) ** 2 + 0.01)), mass
    standard_error = max(mass.std(ddof=1) / np.sqrt(len(mass)), 1e-3)
    assert abs(mass.mean() - (1 + s ** 2 / 3)) < 5 * standard_error  # |z| > 5: p ~ 6e-7
    again = Augmenter(seed=3, **kwargs)(X)
    np.testing.assert_array_equal(out, again)  # same seed, same result
    assert not np.array_equal(Augmenter(seed=4, **kwargs)(X), out)
    assert not np.array_equal(augment(X), out)  # fresh variants every call
    for n in (1, 7):  # any batch size, including one image
        assert augment(X[:n]).shape == (n, 784)


def test_elastic_field_is_smooth_and_sized_by_alpha():
    blur = gaussian_blur_matrix(28, 4.0)
    np.testing.assert_allclose(blur.sum(axis=1), 1.0)  # a weighted mean
    augment = Augmenter(elastic_alpha=1.0, elastic_sigma=4.0, seed=0)
    m = augment.field_basis
    rng = np.random.default_rng(0)
    fields = m @ rng.standard_normal((500, m.shape[1], m.shape[1])) @ m.T
    direct = blur @ rng.uniform(-1, 1, (500, 28, 28)) @ blur.T  # Simard's recipe
    assert abs(fields.std() / direct.std() - 1) < 0.1
    # Neighbouring displacements nearly equal: a smooth, rubber-sheet warp.
    corr = np.corrcoef(fields[:, 14, 14], fields[:, 14, 15])[0, 1]
    assert corr > 0.9


def test_stop_after_passes_later_batches_through():
    X = blob_images(4)
    augment = Augmenter(shift=2, seed=0, stop_after=2)
    assert not np.array_equal(augment(X), X)
    assert not np.array_equal(augment(X), X)
    assert augment(X) is X and augment(X) is X


def test_invalid_augmentation_rejected():
    with pytest.raises(ValueError):
        Augmenter(shift=-1)
    with pytest.raises(ValueError):
        Augmenter(scale=1.5)


def test_fit_uses_augmentation_and_repeats_with_seed():
    X = blob_images(64, seed=6)
    y = np.arange(64) % 3

    def run(seed):
        model = MLP((784, 8, 3), seed=0)
        hist = train.fit(model, SGD(lr=0.1, momentum=0.9), (X, y), (X[:16], y[:16]),
                         epochs=2, batch_size=16, log=lambda line: None,
                         augment=Augmenter(shift=2, rotate=10, seed=seed))
        return hist["loss"]

    plain = train.fit(MLP((784, 8, 3), seed=0), SGD(lr=0.1, momentum=0.9), (X, y),
                      (X[:16], y[:16]), epochs=2, batch_size=16, log=lambda line: None)
    assert run(0) == run(0)
    assert run(0) != run(1) and run(0) != plain["loss"]


# ---- sizes, command line -------------------------------------------------------------
@pytest.mark.parametrize("hidden", [[500], [256, 128, 64]])
def test_any_depth_and_width(hidden):
    args = train.parse_args(["--hidden", *map(str, hidden)])
    assert args.hidden == hidden
    X, y = tiny_problem(seed=7, n=6, d=5, classes=3)
    model = MLP((5, *hidden, 3), dtype=np.float64, seed=0, dropout=0.1)
    assert model.num_layers == len(hidden) + 1
    _, grads = model.loss(X, y, train=True)
    assert {k: v.shape for k, v in grads.items()} == {k: v.shape for k, v in model.params.items()}
    if len(hidden) == 1:  # small enough to check numerically in full
        model = MLP((5, 40, 3), dtype=np.float64, seed=0, l2=0.01)
        assert max(check_gradients(model, X, y, True).values()) < 1e-5


def test_preset_sets_defaults_and_flags_override():
    args = train.parse_args(["--preset", "best"])
    for key, value in train.PRESETS["best"].items():
        assert getattr(args, key) == value
    args = train.parse_args(["--preset", "best", "--epochs", "5", "--dropout", "0.2"])
    assert args.epochs == 5 and args.dropout == 0.2
    assert train.parse_args([]).shift == 0  # augmentation is off by default


@pytest.mark.parametrize("argv", [
    ["--warmup", "20", "--epochs", "20"],
    ["--activation", "swish"],
    ["--scale", "1.2"],
    ["--shift", "-1"],
])
def test_bad_flags_exit_with_message(argv, capsys):
    with pytest.raises(SystemExit) as e:
        train.parse_args(argv)
    assert e.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_files_from_before_the_options_load_as_relu(tmp_path):
    model = MLP((7, 5, 3), seed=0)
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as f:
        old = {k: v for k, v in f.items() if k not in ("activation", "batchnorm")}
    np.savez(tmp_path / "old.npz", **old)
    loaded = MLP.load(tmp_path / "old.npz")
    assert loaded.activation == "relu" and not loaded.batchnorm
    X = np.random.default_rng(0).random((4, 7), dtype=np.float32)
    np.testing.assert_array_equal(loaded.forward(X)[0], model.forward(X)[0])
