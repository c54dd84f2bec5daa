"""Measuring the trained network and its training.

evaluate.py looks inside a trained network, tune.py searches hyperparameters
(and made the accuracy record), keras_baseline.py trains the same network in
Keras, speed.py benchmarks the trainer against the frameworks and the machine.
Run each from the project's folder as a module: ``python -m experiments.evaluate``.
"""
