"""Update rules. Each keeps its own state and updates ``params`` in place.

    opt = Adam(lr=1e-3)
    opt.step(model.params, grads)

``lr`` is a plain attribute, so a schedule can change it between steps.

No subnormal numbers in the state. Where a gradient is exactly 0 (the
first-layer weights of pixels no image in the batch inks, the weights of a
dead ReLU unit) momentum only decays, v <- 0.9 v, until v falls below the
smallest normal float, np.finfo(float32).tiny = 1.2e-38. There it does not
reach 0: 0.9 times 1 to 4 units of the last place rounds back to itself, so
thousands of velocities stayed subnormal for good (6,255 in W1 after 2 epochs
of the default MNIST run), and on many Intel CPUs every operation on a
subnormal costs ~100 cycles instead of a fraction of one: a momentum step took
twice as long. So every FLUSH_EVERY steps each rule sets to 0 the entries of
its state that decay alone would take below tiny before the next such flush
(flush_below, decay_floor). No weight can tell: adding |v| < 1e-37 to a weight
of any ordinary size leaves it unchanged, so training ends with bit-identical
weights. Flushing exactly the subnormals after every step would take three
more passes over W1 each step: the momentum step took 1.5x as long as with a
flush every 16 steps (Ice Lake Xeon, MNIST default run).

Adam's intermediates go into work arrays kept from step
to step (``out=``, in-place operators) rather than fresh temporaries: the same
operations in the same order as the formulas, so the same rounding.
"""
import functools

import numpy as np

# Steps between two flushes of the optimizer state (see decay_floor).
FLUSH_EVERY = 16


def decay_floor(rate, dtype):
    """The threshold below which a state that decays by ``rate`` a step is set to 0.

    tiny / rate**(FLUSH_EVERY + 1): any value at least this large that only
    decays (gradient 0) is still >= tiny, i.e. normal, when the next flush
    comes FLUSH_EVERY steps later; the one spare step covers rounding. For
    momentum 0.9 that is 7e-38, for Adam's beta2 = 0.999, 1.2e-38. Capped at
    2**24 * tiny (2e-31 in float32) for fast decays (rate < 0.37), where
    a value this small can still become subnormal between flushes.
    """
    tiny = np.finfo(dtype).tiny
    decay = rate ** (FLUSH_EVERY + 1)
    return np.dtype(dtype).type(tiny * (2.0**24 if decay < 2.0**-24 else 1 / decay))


def flush_below(a, floor, work, keep):
    """Set the entries of ``a`` with |a| < floor to 0, in place. ``work`` (like
    ``a``) and ``keep`` (bool, a's shape) are scratch.

    Three vectorised passes (|a|, compare, multiply by 0 or 1), no allocation:
    NumPy's masked writes (a[mask] = 0, np.putmask, np.copyto(where=)) go
    element by element and cost 3x as much. Entries >= floor are multiplied by
    exactly 1, so they keep their bits.
    """
    np.abs(a, out=work)
    np.greater_equal(work, floor, out=keep)
    np.multiply(a, keep, out=a)


def count_subnormals(arrays):
    """How many entries of the float arrays are subnormal: nonzero but smaller in
    magnitude than the dtype's smallest normal number (the count is the same on
    every CPU, however much each one pays for them)."""
    count = 0
    for a in arrays:
        if a.dtype.kind == "f":
            count += int(np.count_nonzero((a != 0) & (np.abs(a) < np.finfo(a.dtype).tiny)))
    return count


def state_arrays(optimizer):
    """Every array of state an optimizer keeps between steps (SGD's velocities, Adam's
    moments), the arrays that decay toward zero."""
    return [a for value in vars(optimizer).values() if isinstance(value, dict)
            for a in value.values() if isinstance(a, np.ndarray)]


class _Workspace:
    """Work arrays kept across steps, one per (parameter, role): the same
    memory every step instead of a fresh temporary per operation."""

    def __init__(self):
        self.arrays = {}

    def __call__(self, name, role, like, dtype=None):
        dtype = like.dtype if dtype is None else np.dtype(dtype)
        a = self.arrays.get((name, role))
        if a is None or a.shape != like.shape or a.dtype != dtype:
            a = self.arrays[(name, role)] = np.empty(like.shape, dtype)
        return a


class SGD:
    """Stochastic gradient descent, with optional (heavy-ball) momentum.

        v <- momentum * v - lr * g
        w <- w + v

    With momentum = 0 this is plain SGD, w <- w - lr * g. Momentum keeps a
    running velocity, so steps add up along directions the gradient keeps
    pointing to and cancel along directions where it flips sign.

    The two lines are BLAS's scal and axpy (y <- a x + y), run in place on the
    flat arrays: one pass over memory each, where NumPy's operators need a
    pass per operation and a temporary for lr * g. The step is most of what a
    training step spends outside its matrix products (W1 alone is 100,352
    floats); BLAS took it from 139 to 56-60 us (Ice Lake Xeon). BLAS rounds
    a x + y once where NumPy rounds a x first, so the weights differ from the
    operator version in the last bits, not in accuracy (docs/training-speed.md).

    Every FLUSH_EVERY steps, velocities below decay_floor(momentum) (7e-38
    for 0.9) are set to 0 (see the module docstring): they would otherwise
    decay into subnormals and stay there, and they cannot move a weight.
    """

    def __init__(self, lr=0.01, momentum=0.0):
        self.lr = lr
        self.momentum = momentum
        self.velocity = {}
        self.t = 0  # steps taken, for the flushes
        self._work = _Workspace()

    def step(self, params, grads):
        self.t += 1
        flush = self.t % FLUSH_EVERY == 0
        for name, g in grads.items():
            w = flat(params[name])
            scal, axpy = scal_axpy(w.dtype)
            g = np.asarray(g, w.dtype).reshape(-1)
            if self.momentum == 0:
                axpy(g, w, a=-self.lr)                  # w <- w - lr g
                continue
            if name not in self.velocity:
                self.velocity[name] = np.zeros_like(params[name])
            v = flat(self.velocity[name])
            scal(self.momentum, v)
            axpy(g, v, a=-self.lr)                      # v <- momentum v - lr g
            if flush:
                flush_below(v, decay_floor(self.momentum, v.dtype),
                            self._work(name, "abs", v), self._work(name, "keep", v, bool))
            axpy(v, w)                                  # w <- w + v


@functools.cache
def scal_axpy(dtype):
    """BLAS's scal (x <- a x) and axpy (y <- a x + y) for ``dtype``: sscal and
    saxpy for float32, dscal and daxpy for float64.

    SciPy is imported here, on first use, not with this module: its import
    takes 0.25 s, which train.py hides behind the loading of the data.

    SciPy brings an OpenBLAS of its own, with its own threads; it is kept to
    one (see cli.vector_blas_on_one_thread: with two on two cores, training
    with 2 BLAS threads took 10 s an epoch instead of 0.66 s)."""
    from scipy.linalg.blas import get_blas_funcs

    from cli import vector_blas_on_one_thread
    functions = get_blas_funcs(("scal", "axpy"), dtype=dtype)
    vector_blas_on_one_thread()
    return functions


def flat(a):
    """a as a 1-D view (the same memory), for BLAS's vector routines, which update
    their y in place only when it is one contiguous array of their dtype."""
    if not a.flags.c_contiguous:
        raise ValueError("parameters must be C-contiguous arrays, updated in place")
    return a.reshape(-1)


class Adam:
    """Adam (Kingma & Ba, 2015): momentum on the gradient and on its square.

        m <- beta1 * m + (1 - beta1) * g          first moment (mean)
        v <- beta2 * v + (1 - beta2) * g**2       second moment (uncentred variance)
        m_hat = m / (1 - beta1**t),  v_hat = v / (1 - beta2**t)
        w <- w - lr * m_hat / (sqrt(v_hat) + eps)

    m and v start at zero, so early on they are biased towards zero; dividing
    by 1 - beta**t (t = number of steps so far) corrects that. Each weight's
    step is scaled by its own gradient history.

    Every FLUSH_EVERY steps, entries of m below decay_floor(beta1) and of v
    below decay_floor(beta2) are set to 0 (see the module docstring). m decays
    like SGD's velocity; v, at 0.999 a step, takes far longer, but then sticks
    just the same (0.999 times up to ~500 units of the last place rounds back
    to itself). Such an m or v cannot move a weight: with |m| < 1e-37 the
    step lr * m_hat / (sqrt(v_hat) + eps) is below lr * 1e-28.
    """

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
        self.lr = lr
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.m, self.v = {}, {}
        self.t = 0
        self._work = _Workspace()

    def step(self, params, grads):
        self.t += 1
        correction1 = 1 - self.beta1 ** self.t
        correction2 = 1 - self.beta2 ** self.t
        flush = self.t % FLUSH_EVERY == 0
        for name, g in grads.items():
            w = params[name]
            f = w.dtype.type
            if name not in self.m:
                self.m[name] = np.zeros_like(w)
                self.v[name] = np.zeros_like(w)
            m, v = self.m[name], self.v[name]
            work = self._work(name, "g", g)          # terms of g, in g's dtype
            m *= f(self.beta1)
            np.multiply(g, f(1 - self.beta1), out=work)
            m += work                                 # m = beta1 m + (1 - beta1) g
            np.multiply(g, g, out=work)
            work *= f(1 - self.beta2)
            v *= f(self.beta2)
            v += work                                 # v = beta2 v + (1 - beta2) g*g
            denom = self._work(name, "denom", w)
            if flush:
                keep = self._work(name, "keep", w, bool)
                flush_below(m, decay_floor(self.beta1, m.dtype), denom, keep)
                flush_below(v, decay_floor(self.beta2, v.dtype), denom, keep)
            np.divide(v, f(correction2), out=denom)
            np.sqrt(denom, out=denom)
            denom += f(self.eps)                      # sqrt(v_hat) + eps
            step = self._work(name, "step", w)
            np.multiply(m, f(self.lr / correction1), out=step)
            step /= denom                             # lr * m_hat / (sqrt(v_hat) + eps)
            w -= step


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
