"""experiments/speed.py's breakdown: the parts of a step are timed inside real training
without changing it, and subnormal numbers are counted as they are."""
import numpy as np

from experiments.speed import StepClock
from model import MLP
from optim import SGD, count_subnormals, state_arrays
from train import fit


def quadrants(n=256, seed=0):
    """28x28 images whose class (0-3) is the quadrant holding a bright square."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    X = rng.random((n, 28, 28), dtype=np.float32) * 0.1
    for k in range(4):
        r, c = divmod(k, 2)
        X[y == k, r * 14 + 3:r * 14 + 11, c * 14 + 3:c * 14 + 11] = 1
    return X.reshape(n, -1), y


def train_once(instrument):
    X, y = quadrants()
    model = MLP((784, 16, 4), dropout=0.1, seed=0)
    optimizer = SGD(lr=0.1, momentum=0.9)
    clock = StepClock()
    if instrument:
        X = clock.instrument(model, optimizer, X)
    history = fit(model, optimizer, (X, y), quadrants(4096, seed=1), epochs=2, batch_size=32,
                  log=lambda line: None)
    return history, clock.take(), model


def test_timing_the_parts_changes_nothing_and_times_each_part(monkeypatch):
    import model as model_module
    monkeypatch.setattr(model_module, "dropout_forward", model_module.dropout_forward)
    plain, _, plain_model = train_once(instrument=False)
    timed, parts, timed_model = train_once(instrument=True)
    assert plain["iteration_loss"] == timed["iteration_loss"]
    assert plain["val_accuracy"] == timed["val_accuracy"]
    for name in plain_model.params:
        np.testing.assert_array_equal(plain_model.params[name], timed_model.params[name])
    for part in ("gather", "forward", "dropout", "loss", "backward", "update"):
        assert parts[part] > 0, part
    assert parts["augmentation"] == 0
    # Validation (16x the training set here) runs outside the timed pass: not counted in it.
    assert sum(parts.values()) < sum(timed["seconds"])


def test_subnormals_are_counted_in_any_float_array():
    tiny32 = np.finfo(np.float32).tiny
    a = np.array([0, 1.0, tiny32, tiny32 / 2, -1e-40, 1e-45], dtype=np.float32)
    b = np.array([1e-310, 1e-300, 0.0])  # float64's own range
    assert count_subnormals([a, b, np.arange(3)]) == 3 + 1


def test_optimizer_state_is_every_array_kept_between_steps():
    model = MLP((5, 3, 2), seed=0)
    optimizer = SGD(lr=0.1, momentum=0.9)
    grads = {k: np.ones_like(v) for k, v in model.params.items()}
    optimizer.step(model.params, grads)
    state = state_arrays(optimizer)
    assert len(state) == len(model.params)
    assert sum(a.size for a in state) == sum(p.size for p in model.params.values())


def test_the_fixed_cost_of_a_step_is_the_line_through_the_batch_rows():
    """speed.py splits what a step costs beyond its products into a part the batch
    size does not change and a part per image: 256 us + 2 us per image here."""
    from experiments.speed import say_fixed_cost
    said = []
    steps = {16: 3125, 64: 782, 256: 196, 1024: 49}
    say_fixed_cost(lambda text="": said.append(text), [(b, 256e-6 + 2e-6 * b, steps[b]) for b in steps])
    assert "about 256 us whatever its size, plus 2.00 us per image" in said[0]
    assert "At batch 64 the fixed part alone is 0.200 s of each epoch" in said[0]


def test_the_momentum_folded_into_the_product_updates_the_velocity_in_place():
    """The benchmark's fused alternative computes what SGD's momentum step does,
    on the velocity itself (a GEMM on a copy would time work that changes nothing)."""
    from experiments.speed import momentum_in_the_product
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 30)).astype(np.float32)
    dz = rng.standard_normal((64, 20)).astype(np.float32)
    v = rng.standard_normal((30, 20)).astype(np.float32)
    expected = 0.9 * v.astype(np.float64) - 0.05 * (x.T.astype(np.float64) @ dz)
    assert momentum_in_the_product(x, dz, v, 0.05, 0.9) is None  # its result is v itself
    np.testing.assert_allclose(v, expected, rtol=1e-5, atol=1e-5)
