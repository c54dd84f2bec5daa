"""The same network trained with Keras, as the framework baseline for the README.

    python -m experiments.keras_baseline --data path/to/mnist.npz --out baseline.json

Same as the default ``python train.py``: 784-128-64-10, ReLU, He-normal
weights (untruncated, std sqrt(2 / fan_in), as in model.py), zero biases,
dropout 0.1 after each hidden ReLU, softmax + cross-entropy, SGD with
momentum 0.9 (Keras uses the same update, v <- 0.9 v - lr g, w <- w + v),
lr 0.05 decayed per step by a cosine to 0 over the whole run, batch 64,
20 epochs, the last 10,000 training images held out for validation.
The data go through the same data.py, so --data / MNIST_DATA work as in train.py.

Prints and writes (to --out, as JSON) the test and validation accuracy and
the seconds per epoch: the median over epochs of the training pass alone
(validation and test are evaluated after training, outside the timing).
The first epoch includes TensorFlow's tracing; the median leaves it out.
"""
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # no TensorFlow start-up chatter (CUDA probes)

import numpy as np

from cli import (make_parser, check_writable, fraction, non_negative_int, positive_float,
                 positive_int, single_blas_thread)
from data import (DATA_HELP, NUM_CLASSES, VAL_SIZE, DataError, default_data_path, load_mnist,
                  prepare)
from fileio import write_json


def parse_args(argv=None):
    p = make_parser("Train the same MLP with Keras (the framework baseline).", __spec__)
    p.add_argument("--epochs", type=positive_int, default=20, help="passes over the training set")
    p.add_argument("--lr", type=positive_float, default=0.05,
                   help="initial learning rate, cosine-decayed per step to 0")
    p.add_argument("--momentum", type=fraction, default=0.9, help="SGD momentum")
    p.add_argument("--batch-size", type=positive_int, default=64, help="examples per update")
    p.add_argument("--dropout", type=fraction, default=0.1,
                   help="probability of dropping each hidden unit while training")
    p.add_argument("--hidden", type=positive_int, nargs="+", default=[128, 64],
                   help="hidden layer widths")
    p.add_argument("--seed", type=int, default=0, help="seed of Keras' weights, order, dropout")
    p.add_argument("--val-size", type=non_negative_int, default=VAL_SIZE,
                   help="the last VAL_SIZE training images are held out for validation")
    p.add_argument("--data", default=default_data_path(), help=DATA_HELP)
    p.add_argument("--out", default="baseline.json", help="JSON file for the results")
    p.add_argument("--verbose", action="store_true", help="Keras' own progress bars")
    return p.parse_args(argv)


def import_keras_quietly():
    """import keras, without the notices TensorFlow's C++ side writes to stderr
    while loading (about oneDNN and CUDA), which no log level setting reaches."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import keras
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return keras


def build_model(sizes, dropout, keras):
    """784 -> [Dense + ReLU -> Dropout] per hidden layer -> Dense + softmax."""
    he_normal = keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal")
    model = keras.Sequential([keras.Input((sizes[0],))])
    for width in sizes[1:-1]:
        model.add(keras.layers.Dense(width, activation="relu",
                                     kernel_initializer=he_normal, bias_initializer="zeros"))
        if dropout > 0:
            model.add(keras.layers.Dropout(dropout))
    model.add(keras.layers.Dense(sizes[-1], activation="softmax",
                                 kernel_initializer=he_normal, bias_initializer="zeros"))
    return model


def make_model(keras, sizes, dropout, lr, momentum, total_steps):
    """The compiled Keras model: SGD with momentum, lr cosine-decayed per step
    from lr to 0 over total_steps (Keras counts steps across fit calls)."""
    model = build_model(sizes, dropout, keras)
    schedule = keras.optimizers.schedules.CosineDecay(lr, decay_steps=total_steps, alpha=0.0)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule, momentum=momentum),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def epoch_timer(keras, log=None):
    """A callback that keeps the seconds of each epoch's training pass in
    .seconds (fit gets no validation data, so nothing else is in them)."""

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)
            if log is not None:
                log(epoch, logs, self.seconds[-1])

    return EpochTimer()


def main(argv=None):
    single_blas_thread()
    args = parse_args(argv)
    t_start = time.perf_counter()
    try:
        if os.path.isdir(args.out):
            raise DataError(f"--out {args.out}: is a folder; give a file name for the JSON")
        check_writable(os.path.dirname(os.path.abspath(args.out)))
        train, val, test = prepare(load_mnist(args.data, NUM_CLASSES), args.val_size)
    except DataError as e:
        sys.exit(f"error: {e}")
    try:
        keras = import_keras_quietly()
    except ImportError:
        sys.exit("error: the baseline needs TensorFlow/Keras: pip install -r requirements.txt")

    keras.utils.set_random_seed(args.seed)
    sizes = (train[0].shape[1], *args.hidden, NUM_CLASSES)
    steps = args.epochs * -(-len(train[0]) // args.batch_size)
    model = make_model(keras, sizes, args.dropout, args.lr, args.momentum, steps)

    def log(epoch, logs, seconds):
        if not args.verbose:
            print(f"Epoch {epoch + 1}/{args.epochs}  loss {logs['loss']:.4f}  "
                  f"acc {logs['accuracy']:.4f}  {seconds:.2f}s", flush=True)

    timer = epoch_timer(keras, log)
    try:
        history = model.fit(*train, batch_size=args.batch_size, epochs=args.epochs,
                            shuffle=True, callbacks=[timer], verbose=2 if args.verbose else 0)
    except KeyboardInterrupt:
        sys.exit(f"\ninterrupted after {len(timer.seconds)} of {args.epochs} epochs: "
                 "nothing was written.")

    def accuracy(X, y):
        if len(X) == 0:
            return None
        return float(np.mean(model.predict(X, batch_size=10000, verbose=0).argmax(axis=1) == y))

    results = {
        "framework": f"keras {keras.__version__} ({keras.backend.backend()} backend)",
        "test_accuracy": accuracy(*test),
        "val_accuracy": accuracy(*val),
        "train_loss": float(history.history["loss"][-1]),
        "seconds_per_epoch": float(np.median(timer.seconds)),
        "epoch_seconds": timer.seconds,
        "sizes": list(sizes),
        "hyperparameters": {k: v for k, v in vars(args).items()
                            if k not in ("data", "out", "verbose")},
        "total_seconds": time.perf_counter() - t_start,
    }
    val_text = "-" if results["val_accuracy"] is None else f"{results['val_accuracy']:.4f}"
    print(f"Keras: test accuracy {results['test_accuracy']:.4f}  val accuracy {val_text}  "
          f"{results['seconds_per_epoch']:.2f} s per epoch (median, training pass)")
    write_json(args.out, results)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
