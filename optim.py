"""Update rules. Each keeps its own state and updates ``params`` in place.

    opt = Adam(lr=1e-3)
    opt.step(model.params, grads)

``lr`` is a plain attribute, so a schedule can change it between steps.

Two things make a step cheap, and neither changes its numbers:

* No subnormal numbers in the state. Where a gradient is exactly 0 (the
  first-layer weights of pixels no image in the batch inks, the weights of a
  dead ReLU unit) momentum only decays, v <- 0.9 v, until v falls below the
  smallest normal float (np.finfo(float32).tiny, 1.2e-38). There it does not
  reach 0: 0.9 times 1 to 4 units of the last place rounds back to itself, so
  thousands of velocities stay subnormal for good, and on many Intel CPUs every
  operation on a subnormal costs ~100 cycles instead of a fraction of one (a
  momentum step took twice as long after two epochs of MNIST). Each step
  therefore sets the state's subnormal entries to 0 (flush_subnormals). No
  weight can tell: adding |v| < 1.2e-38 to a weight of any normal size leaves
  it unchanged, so training ends with bit-identical weights.
* No temporary arrays. Every intermediate goes into work arrays kept from one
  step to the next (``out=``, in-place operators), the same operations in the
  same order as the textbook expressions, so the same rounding.
"""
import numpy as np


def flush_subnormals(a, work, keep):
    """Set the subnormal entries of ``a`` (0 < |a| < np.finfo(a.dtype).tiny) to 0,
    in place. ``work`` (like ``a``) and ``keep`` (bool, a's shape) are scratch.

    Three passes (|a|, compare, multiply by 0 or 1), no allocation. Cheaper than
    a[mask] = 0, np.putmask or np.copyto(where=): NumPy's masked writes go
    element by element and cost 3x as much as these vectorised passes.
    Normal entries are multiplied by exactly 1, so they do not change.
    """
    np.abs(a, out=work)
    np.greater_equal(work, np.finfo(a.dtype).tiny, out=keep)
    np.multiply(a, keep, out=a)


class _Workspace:
    """Work arrays kept across steps, one per (parameter, role): the same
    memory every step instead of a fresh 0.4 MB temporary per operation on W1."""

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

    Subnormal velocities are set to 0 after each update (see the module
    docstring): they only ever arise where the gradient has been 0 for ~800
    steps, and cannot move a weight.
    """

    def __init__(self, lr=0.01, momentum=0.0):
        self.lr = lr
        self.momentum = momentum
        self.velocity = {}
        self._work = _Workspace()

    def step(self, params, grads):
        for name, g in grads.items():
            w = params[name]
            lr_g = self._work(name, "lr_g", g)
            np.multiply(g, w.dtype.type(self.lr), out=lr_g)   # lr * g
            if self.momentum == 0:
                w -= lr_g
                continue
            v = self.velocity.get(name)
            if v is None:
                v = self.velocity[name] = np.zeros_like(w)
            v *= w.dtype.type(self.momentum)
            v -= lr_g
            flush_subnormals(v, self._work(name, "abs", v), self._work(name, "keep", v, bool))
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

    Subnormal entries of m and v are set to 0 after each update (see the module
    docstring). m decays like SGD's velocity; v, at 0.999 a step, takes far
    longer, but then sticks just the same (0.999 times up to ~500 units of the
    last place rounds back to itself). A subnormal m or v cannot move a weight:
    m / (sqrt(v_hat) + eps) with |m| < 1.2e-38 is below 1e-30.
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
        for name, g in grads.items():
            w = params[name]
            f = w.dtype.type
            if name not in self.m:
                self.m[name] = np.zeros_like(w)
                self.v[name] = np.zeros_like(w)
            m, v = self.m[name], self.v[name]
            work = self._work(name, "g", g)          # terms of g, in g's dtype
            keep = self._work(name, "keep", w, bool)
            m *= f(self.beta1)
            np.multiply(g, f(1 - self.beta1), out=work)
            m += work                                 # m = beta1 m + (1 - beta1) g
            np.multiply(g, g, out=work)
            work *= f(1 - self.beta2)
            v *= f(self.beta2)
            v += work                                 # v = beta2 v + (1 - beta2) g*g
            denom = self._work(name, "denom", w)
            flush_subnormals(m, denom, keep)
            flush_subnormals(v, denom, keep)
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
