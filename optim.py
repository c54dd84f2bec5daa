"""Update rules. Each keeps its own state and updates ``params`` in place.

    opt = Adam(lr=1e-3)
    opt.step(model.params, grads)

``lr`` is a plain attribute, so a schedule can change it between steps.
"""
import numpy as np


class SGD:
    """Stochastic gradient descent, with optional (heavy-ball) momentum.

        v <- momentum * v - lr * g
        w <- w + v

    With momentum = 0 this is plain SGD, w <- w - lr * g. Momentum keeps a
    running velocity, so steps add up along directions the gradient keeps
    pointing to and cancel along directions where it flips sign.
    """

    def __init__(self, lr=0.01, momentum=0.0):
        self.lr = lr
        self.momentum = momentum
        self.velocity = {}

    def step(self, params, grads):
        for name, g in grads.items():
            w = params[name]
            if self.momentum == 0:
                w -= w.dtype.type(self.lr) * g
                continue
            v = self.velocity.get(name)
            if v is None:
                v = self.velocity[name] = np.zeros_like(w)
            v *= w.dtype.type(self.momentum)
            v -= w.dtype.type(self.lr) * g
            w += v


class Adam:
    """Adam (Kingma & Ba, 2015): momentum on the gradient and on its square.

        m <- beta1 * m + (1 - beta1) * g          first moment (mean)
        v <- beta2 * v + (1 - beta2) * g**2       second moment (uncentred variance)
        m_hat = m / (1 - beta1**t),  v_hat = v / (1 - beta2**t)
        w <- w - lr * m_hat / (sqrt(v_hat) + eps)

    m and v start at zero, so early on they are biased towards zero; dividing
    by 1 - beta**t (t = number of steps so far) corrects that. Each weight's
    step is scaled by its own gradient history.
    """

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr = lr
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m, self.v = {}, {}
        self.t = 0

    def step(self, params, grads):
        self.t += 1
        correction1 = 1 - self.beta1 ** self.t
        correction2 = 1 - self.beta2 ** self.t
        for name, g in grads.items():
            w = params[name]
            f = w.dtype.type
            if name not in self.m:
                self.m[name] = np.zeros_like(w)
                self.v[name] = np.zeros_like(w)
            m, v = self.m[name], self.v[name]
            m *= f(self.beta1)
            m += f(1 - self.beta1) * g
            v *= f(self.beta2)
            v += f(1 - self.beta2) * (g * g)
            denom = np.sqrt(v / f(correction2))
            denom += f(self.eps)
            w -= f(self.lr / correction1) * m / denom


# ---- learning-rate schedules: the multiplier of the base rate, given the
# fraction of training done (0 at the first step, -> 1 at the last) ----------
def constant(progress):
    return 1.0


def cosine(progress):
    """Half a cosine from 1 down to 0: large steps early, fine ones at the end."""
    return 0.5 * (1.0 + np.cos(np.pi * progress))


SCHEDULES = {"constant": constant, "cosine": cosine}


def step_decay(every, factor=0.1):
    """Multiply the rate by ``factor`` after every ``every`` fraction of training
    (e.g. every=0.3, factor=0.1: 1 until 30 %, 0.1 until 60 %, 0.01, 0.001)."""
    if not every > 0 or not factor > 0:
        raise ValueError("step decay needs every > 0 and factor > 0")

    def schedule(progress):
        # The small epsilon keeps 0.6 / 0.3 from landing just below 2.
        return factor ** np.floor(progress / every + 1e-9)
    return schedule


def with_warmup(schedule, warmup):
    """Linear warm-up from 0 to 1 over the first ``warmup`` fraction of
    training, then ``schedule`` over the rest (its progress rescaled to 0..1).

    Why: at the start the weights are random and the gradients large and
    inconsistent; a high rate straight away (and momentum on top of it) can
    throw the network into a bad region, so the rate ramps up instead.
    """
    if warmup <= 0:
        return schedule
    if not warmup < 1:
        raise ValueError(f"warm-up must be a fraction of training below 1, got {warmup}")

    def warmed_up(progress):
        if progress < warmup:
            return progress / warmup
        return schedule((progress - warmup) / (1 - warmup))
    return warmed_up


def make_schedule(name, epochs, warmup=0, step_size=None, step_factor=0.1):
    """The schedule for the command line: ``name`` in SCHEDULE_NAMES, ``warmup``
    and ``step_size`` counted in epochs (step_size default: a third of them)."""
    if name == "step":
        schedule = step_decay((step_size or max(1, epochs / 3)) / epochs, step_factor)
    else:
        schedule = SCHEDULES[name]
    return with_warmup(schedule, warmup / epochs)


SCHEDULE_NAMES = ("constant", "step", "cosine")
