"""The Keras baseline is the same network, initialisation and schedule as ours."""
import numpy as np
import pytest

from model import MLP
from optim import SCHEDULES

pytestmark = pytest.mark.slow  # importing Keras (TensorFlow) takes seconds


@pytest.fixture(scope="module")
def keras():
    from experiments.keras_baseline import import_keras_quietly
    return import_keras_quietly()


def test_same_layers_and_initialisation(keras):
    from experiments.keras_baseline import make_model
    sizes = (784, 128, 64, 10)
    keras.utils.set_random_seed(0)
    model = make_model(keras, sizes, dropout=0.1, lr=0.05, momentum=0.9, total_steps=100)
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    dropout = [layer for layer in model.layers if isinstance(layer, keras.layers.Dropout)]
    ours = MLP(sizes)
    assert [d.kernel.shape for d in dense] == [ours.params[f"W{i}"].shape for i in (1, 2, 3)]
    assert [d.activation.__name__ for d in dense] == ["relu", "relu", "softmax"]
    assert [layer.rate for layer in dropout] == [0.1, 0.1]
    for d, fan_in in zip(dense[:2], sizes):  # the 10-unit layer has too few weights to judge
        W = np.asarray(d.kernel)
        assert W.std() == pytest.approx(np.sqrt(2.0 / fan_in), rel=0.05)
        # untruncated, like ours: a normal has 0.27 % of its values beyond 3 std
        assert np.mean(np.abs(W) > 3 * np.sqrt(2.0 / fan_in)) > 0.001
        assert not np.asarray(d.bias).any()


def test_same_learning_rate_schedule(keras):
    from experiments.keras_baseline import make_model
    total = 1000
    model = make_model(keras, (8, 4, 3), dropout=0.1, lr=0.05, momentum=0.9, total_steps=total)
    schedule = model.optimizer.learning_rate if callable(model.optimizer.learning_rate) \
        else model.optimizer._learning_rate
    for step in (0, 1, 250, 500, 999):
        assert float(schedule(step)) == pytest.approx(0.05 * SCHEDULES["cosine"](step / total),
                                                      rel=1e-5, abs=1e-9)
    assert model.optimizer.momentum == pytest.approx(0.9)
