"""The handwriting benchmark's harder tier: many hands, drawn freely, under
conditions that come together.

The standard tier (handwriting/benchmark.py) jitters two or three templates
per digit a little; models read it at 99-100 %, so it can no longer rank them.
Here every digit has four or five writing styles (STYLES: flagged, footed and
long-flagged 1s, crossed 7s, open and closed 4s, 9s with straight and curled
tails, open loops on 6, 8 and 9, ...), and each sample is drawn freely:

- the style's skeleton is a few control points per stroke; each point is
  moved by a smooth random field over the whole digit (so strokes that meet
  still meet) plus a little noise of its own, and the pen follows a spline
  through the moved points (corners stay corners);
- a hand: narrow, normal or wide; slanted either way; light, medium or heavy
  pressure (how dark and how wide the pen), and along every stroke the pen's
  width and darkness vary smoothly, as a real pen's do.

The same sample is then put on paper under each of CONDITIONS, which combine
what the standard tier tests one at a time: low-resolution scans (the digit
at 16x16, 12x12 and 8x8 pixels, 16 grey levels, enlarged again, like old
digit collections), a thin pen on ruled paper, a strong slant with a rotation,
a photo with a shadow, noise and JPEG.

Every image comes from (seed, digit, style, sample) and, for its page, the
condition too: the same seed gives the same images, and any subset of
conditions or styles draws exactly the images the full run draws.
"""
import collections

import numpy as np
from PIL import Image

from handwriting.drawing import (arc, canvas_for, centred, encode, image_of, on_paper, ruled,
                                 shadow)


def ring(cx, cy, rx, ry, start, stop):
    """Control points on an ellipse from ``start`` to ``stop`` degrees (see
    drawing.arc: 0 = right, 90 = down), about every 45 degrees."""
    return arc(cx, cy, rx, ry, start, stop, n=max(3, int(abs(stop - start) / 45) + 2))


def lines(*points):
    """A polyline as pieces: each segment its own straight piece, so every
    point is a corner."""
    return [[a, b] for a, b in zip(points[:-1], points[1:])]


# Each style: digit -> [(name, width over height, strokes)]. A stroke is a list
# of pieces drawn end to end; the pen follows a smooth spline through each
# piece's points, and turns a corner where one piece meets the next (loops run
# the way a pen goes: a 6 down its back, round the bottom and up). Points are
# (x, y) in a unit box, x to the right, y downwards, the digit 0..1 tall.
STYLES = {
    0: [("0 oval", 0.7, [[ring(0.5, 0.5, 0.45, 0.5, -90, 270)]]),
        ("0 open at the top", 0.7, [[ring(0.5, 0.5, 0.45, 0.5, -75, 245)]]),
        ("0 crossing at the top", 0.65, [[ring(0.5, 0.5, 0.45, 0.5, -130, 300)]]),
        ("0 narrow, pointed", 0.5, [[[(0.55, 0.0), (0.95, 0.4), (0.8, 0.9), (0.4, 1.0),
                                     (0.05, 0.6), (0.2, 0.15), (0.6, 0.02)]]])],
    1: [("1 stick", 0.3, [lines((0.5, 0.0), (0.5, 1.0))]),
        ("1 flagged", 0.45, [lines((0.1, 0.25), (0.55, 0.0), (0.55, 1.0))]),
        ("1 flagged and footed", 0.6, [lines((0.15, 0.22), (0.5, 0.0), (0.5, 1.0)),
                                       lines((0.15, 1.0), (0.85, 1.0))]),
        ("1 long upstroke", 0.5, [lines((0.12, 0.35), (0.6, 0.0), (0.6, 1.0))])],
    2: [("2 plain", 0.65, [[ring(0.5, 0.3, 0.45, 0.3, 200, 350) + [(0.55, 0.65), (0.02, 1.0)],
                            [(0.02, 1.0), (1.0, 0.98)]]]),
        ("2 looped base", 0.65, [[ring(0.5, 0.28, 0.45, 0.28, 200, 350) +
                                  [(0.5, 0.65), (0.12, 1.0), (0.0, 0.86), (0.14, 0.8),
                                   (0.3, 0.95), (0.6, 1.0), (1.0, 0.96)]]]),
        ("2 angular", 0.65, [[[(0.05, 0.18), (0.35, 0.0), (0.75, 0.02), (0.95, 0.2),
                               (0.85, 0.42)]] + lines((0.85, 0.42), (0.03, 1.0), (1.0, 1.0))]),
        ("2 curly base", 0.65, [[ring(0.5, 0.27, 0.42, 0.27, 190, 380) +
                                 [(0.25, 0.75), (0.05, 1.0), (0.6, 0.93), (1.0, 1.0)]]])],
    3: [("3 round", 0.6, [[ring(0.5, 0.25, 0.42, 0.25, 200, 450) +
                           ring(0.5, 0.73, 0.47, 0.27, 270, 520)[1:]]]),
        ("3 flat top", 0.6, [lines((0.05, 0.0), (0.95, 0.0), (0.4, 0.42)) +
                             [[(0.4, 0.42)] + ring(0.5, 0.7, 0.45, 0.3, 250, 520)[1:]]]),
        ("3 pointed middle", 0.6, [[ring(0.5, 0.24, 0.42, 0.24, 200, 430) + [(0.3, 0.48)],
                                    [(0.3, 0.48)] + ring(0.5, 0.73, 0.47, 0.27, 255, 520)]]),
        ("3 small top", 0.6, [[ring(0.45, 0.18, 0.33, 0.18, 200, 450) +
                               ring(0.5, 0.66, 0.5, 0.34, 270, 520)[1:]]])],
    4: [("4 closed", 0.7, [lines((0.72, 1.0), (0.72, 0.0), (0.0, 0.68), (1.0, 0.68))]),
        ("4 open", 0.7, [lines((0.18, 0.0), (0.05, 0.65), (1.0, 0.65)),
                         lines((0.75, 0.1), (0.75, 1.0))]),
        ("4 open, slanting stem", 0.7, [lines((0.25, 0.0), (0.05, 0.62), (1.0, 0.6)),
                                        lines((0.85, 0.05), (0.62, 1.0))]),
        ("4 closed, stem apart", 0.7, [lines((0.62, 0.0), (0.0, 0.65), (1.0, 0.65)),
                                       lines((0.72, 0.2), (0.72, 1.0))])],
    5: [("5 one stroke", 0.62, [lines((0.92, 0.02), (0.18, 0.0), (0.12, 0.45)) +
                                [[(0.12, 0.45)] + ring(0.5, 0.69, 0.42, 0.31, 235, 495)[1:]]]),
        ("5 flag apart", 0.62, [[[(0.15, 0.0), (0.1, 0.45)],
                                 [(0.1, 0.45)] + ring(0.5, 0.69, 0.42, 0.31, 235, 495)[1:]],
                                lines((0.15, 0.0), (0.95, 0.0))]),
        ("5 angular belly", 0.62, [lines((0.9, 0.02), (0.15, 0.0), (0.1, 0.45)) +
                                   [[(0.1, 0.45), (0.5, 0.38), (0.9, 0.55), (0.9, 0.8),
                                     (0.5, 1.0), (0.05, 0.9)]]]),
        ("5 small belly", 0.6, [[[(0.2, 0.0), (0.15, 0.55)],
                                 [(0.15, 0.55)] + ring(0.5, 0.77, 0.4, 0.23, 225, 495)[1:]],
                                lines((0.2, 0.0), (0.95, 0.02))])],
    6: [("6 curved back", 0.62, [[[(0.8, 0.02), (0.45, 0.12), (0.15, 0.4)] +
                                  ring(0.5, 0.72, 0.42, 0.28, 180, -170)]]),
        # The back ends at the loop's 240-degree point, where the loop starts and
        # closes (from 200 degrees it stopped 40 short: an open loop, read as a 5).
        ("6 straight back", 0.62, [lines((0.75, 0.0), (0.3, 0.45)) +
                                   [[(0.3, 0.45)] + ring(0.5, 0.73, 0.4, 0.27, 240, 600)[1:]]]),
        ("6 open loop", 0.62, [[ring(0.62, 0.55, 0.5, 0.55, 285, 180) +
                                ring(0.5, 0.72, 0.42, 0.28, 180, -110)[1:]]]),
        ("6 small loop", 0.55, [[ring(0.7, 0.62, 0.62, 0.62, 270, 180) +
                                 ring(0.45, 0.8, 0.37, 0.2, 180, -170)[1:]]])],
    7: [("7 plain", 0.62, [lines((0.0, 0.0), (1.0, 0.0), (0.35, 1.0))]),
        ("7 crossed", 0.62, [lines((0.0, 0.0), (1.0, 0.0), (0.35, 1.0)),
                             lines((0.25, 0.52), (0.85, 0.52))]),
        ("7 with a tick", 0.62, [lines((0.02, 0.18), (0.0, 0.0), (1.0, 0.0), (0.4, 1.0))]),
        ("7 curved stem", 0.62, [[[(0.0, 0.02), (1.0, 0.0)],
                                  [(1.0, 0.0), (0.62, 0.45), (0.45, 1.0)]]])],
    8: [("8 one stroke", 0.6, [[[(0.5 + 0.42 * np.sin(2 * t), 0.5 - 0.5 * np.cos(t))
                                 for t in np.linspace(0, 2 * np.pi, 17)]]]),
        ("8 two loops", 0.6, [[ring(0.5, 0.25, 0.33, 0.25, 90, 450)],
                              [ring(0.5, 0.73, 0.45, 0.27, -90, 270)]]),
        ("8 open at the top", 0.6, [[[(0.5 + 0.42 * np.sin(2 * t), 0.5 - 0.5 * np.cos(t))
                                      for t in np.linspace(0, 1.8 * np.pi, 15)]]]),
        ("8 small top loop", 0.6, [[ring(0.5, 0.2, 0.25, 0.2, 90, 450)],
                                   [ring(0.5, 0.68, 0.48, 0.32, -90, 270)]])],
    9: [("9 straight tail", 0.6, [[ring(0.5, 0.28, 0.42, 0.28, 0, 362),
                                   [(0.92, 0.28), (0.85, 1.0)]]]),
        ("9 curled tail", 0.6, [[ring(0.5, 0.28, 0.42, 0.28, 0, 362),
                                 [(0.92, 0.28), (0.9, 0.75), (0.7, 1.0), (0.35, 0.97)]]]),
        ("9 open loop", 0.6, [[ring(0.5, 0.3, 0.42, 0.3, 300, 0)],
                              lines((0.93, 0.02), (0.88, 1.0))]),
        ("9 small loop, long tail", 0.55, [[ring(0.5, 0.2, 0.42, 0.2, 0, 362),
                                            [(0.92, 0.2), (0.8, 1.0)]]])],
}
STYLE_NAMES = [name for digit in sorted(STYLES) for name, _, _ in STYLES[digit]]

MAX_ASPECT = max(aspect for styles in STYLES.values() for _, aspect, _ in styles)
# A hand's overall width (times the style's, see free_strokes), and its pressure: the pen's
# width as a fraction of the digit's height, and its darkness.
HAND_WIDTHS = {"narrow": (0.6, 0.8), "normal": (0.85, 1.15), "wide": (1.25, 1.5)}
PRESSURES = {"light": ((0.035, 0.06), (0.35, 0.55)),
             "medium": ((0.07, 0.1), (0.7, 0.9)),
             "heavy": ((0.13, 0.19), (0.95, 1.0))}

# width, pressure: the names above; aspect: the digit's width over its height
# as drawn; slant: x += slant * height above the base; pen: its width over the
# digit's height; darkness: its ink; waves: how width and darkness vary along
# each stroke (see draw_pen).
Hand = collections.namedtuple("Hand", "width pressure aspect slant pen darkness waves")
Sample = collections.namedtuple("Sample", "condition style hand digit data image")


def catmull_rom(points, per_segment=12):
    """A smooth curve through ``points`` (n, 2): the uniform Catmull-Rom
    spline, ``per_segment`` points per span, ends extended by reflection."""
    p = np.asarray(points, dtype=np.float64)
    if len(p) < 3:
        return p
    p = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    t = np.linspace(0, 1, per_segment, endpoint=False)[:, None]
    t2, t3 = t * t, t * t * t
    out = []
    for i in range(1, len(p) - 2):
        a, b, c, d = p[i - 1], p[i], p[i + 1], p[i + 2]
        out.append(0.5 * (2 * b + (c - a) * t + (2 * a - 5 * b + 4 * c - d) * t2 +
                          (3 * b - a - 3 * c + d) * t3))
    out.append(p[-2:-1])
    return np.vstack(out)


def smooth_field(rng, amplitude, waves=3):
    """A random smooth displacement of the plane: (n, 2) points -> (n, 2)
    offsets, a few long sine waves per axis, each about ``amplitude`` tall."""
    freq = rng.uniform(1.5, 4.0, (2, waves))
    direction = rng.uniform(0, 2 * np.pi, (2, waves))
    phase = rng.uniform(0, 2 * np.pi, (2, waves))
    size = amplitude * rng.uniform(0.5, 1.0, (2, waves)) / np.sqrt(waves)

    def move(points):
        along = (points[:, :1] * np.cos(direction[:, None, :]) +
                 points[:, 1:] * np.sin(direction[:, None, :]))  # (2, n, waves)
        return (size[:, None, :] * np.sin(freq[:, None, :] * along + phase[:, None, :])
                ).sum(axis=2).T
    return move


def free_strokes(style_strokes, aspect, rng):
    """One person's drawing of a style: dense pen paths (list of (n, 2)
    arrays, digit 0..1 tall) and the hand that drew them."""
    field = smooth_field(rng, amplitude=0.07)
    hand_width = list(HAND_WIDTHS)[rng.integers(len(HAND_WIDTHS))]
    pressure = list(PRESSURES)[rng.integers(len(PRESSURES))]
    # A wide hand does not stretch a 1's flag into a 7's bar, nor a narrow one
    # squeeze a 0 into a 1: the hand changes narrow digits less.
    width = aspect * rng.uniform(*HAND_WIDTHS[hand_width]) ** (aspect / MAX_ASPECT) ** 2
    slant = rng.uniform(-0.2, 0.4)  # x += slant * height above the base; MNIST leans right
    paths = []
    for stroke in style_strokes:
        pieces = []
        for piece in stroke:
            control = np.asarray(piece, dtype=np.float64)
            # The field moves points that coincide (where strokes meet) alike;
            # the noise of their own is small enough to leave joints closed.
            control = control + field(control) + rng.normal(0, 0.012, control.shape)
            pieces.append(catmull_rom(control))
        path = np.vstack(pieces)
        x = (path[:, 0] - 0.5) * width + slant * (1 - path[:, 1])
        paths.append(np.column_stack([x, path[:, 1]]))
    pen_range, dark_range = PRESSURES[pressure]
    # Along each stroke the pen's width and darkness rise and fall, 1-3 times a digit height.
    waves = rng.uniform([1.0, 0, 1.0, 0], [3.0, 2 * np.pi, 3.0, 2 * np.pi], (len(paths), 4))
    hand = Hand(hand_width, pressure, width, slant, rng.uniform(*pen_range),
                rng.uniform(*dark_range), waves)
    return paths, hand


def turned(paths, degrees, slant=0.0):
    """``paths`` slanted (x += slant * height above the middle) and then
    turned ``degrees`` clockwise about their centre."""
    centre = np.concatenate(paths).mean(axis=0)
    t = np.deg2rad(degrees)
    turn = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    out = []
    for p in paths:
        q = p - centre
        q = np.column_stack([q[:, 0] - slant * q[:, 1], q[:, 1]])
        out.append(q @ turn.T + centre)
    return out


def draw_pen(paths, hand, height, pen=None, supersample=4):
    """The ink of ``paths`` drawn ``height`` pixels tall: a round pen stamped
    along each path, its width (``pen`` times the height, the hand's by
    default) and darkness varying along the stroke. A float array in [0, 1],
    the digit's box plus a margin; drawn ``supersample`` times larger and
    averaged down (anti-aliased edges)."""
    pen = hand.pen if pen is None else pen
    s = height * supersample
    radius = max(pen * s / 2, 0.6 * supersample)
    canvas, draw, to_canvas = canvas_for(np.concatenate(paths), s, 1.5 * radius, supersample)
    for path, (f_width, p_width, f_dark, p_dark) in zip(paths, hand.waves):
        xy = to_canvas(path)
        # Stamps at most a fifth of a radius apart: a continuous stroke.
        steps = np.hypot(*np.diff(xy, axis=0).T)
        along = np.concatenate([[0], np.cumsum(steps)])
        at = np.linspace(0, along[-1], max(2, int(along[-1] / (0.2 * radius)) + 1))
        x, y = np.interp(at, along, xy[:, 0]), np.interp(at, along, xy[:, 1])
        u = at / s  # arc length in digit heights
        r = radius * (1 + 0.3 * np.sin(2 * np.pi * f_width * u + p_width))
        dark = hand.darkness * (0.85 + 0.15 * np.sin(2 * np.pi * f_dark * u + p_dark))
        for xi, yi, ri, di in zip(x, y, r, dark):
            draw.ellipse([xi - ri, yi - ri, xi + ri, yi + ri], fill=int(round(255 * di)))
    return np.asarray(canvas.reduce(supersample), dtype=np.float64) / 255


def square_page(ink, margin):
    """``ink`` in the middle of a square page ``margin`` times its longer side."""
    side = int(round(max(ink.shape) * margin))
    page = np.zeros((side, side))
    top, left = (side - ink.shape[0]) // 2, (side - ink.shape[1]) // 2
    page[top:top + ink.shape[0], left:left + ink.shape[1]] = ink
    return page


def scan(ink, pixels, enlarge, resample):
    """A low-resolution scan, made as old digit collections were: the ink
    scanned black or white (at a third of its darkness: a light pen still
    counts), its square page (a narrow margin) averaged down to ``pixels`` x
    ``pixels``, quantised to 16 grey levels, and enlarged ``enlarge`` times."""
    page = on_paper(square_page((ink > ink.max() / 3).astype(np.float64), 1.15))
    small = Image.fromarray(page.astype(np.float32)).resize((pixels, pixels), Image.BOX)
    levels = np.round(np.asarray(small) * 15) / 15
    return image_of(levels).resize((pixels * enlarge, pixels * enlarge), resample)


def slanted_and_rotated(paths, hand, rng):
    """A slant of 14-22 degrees either way in all (the hand's own included),
    then a turn of 8-15 degrees either way."""
    slant = rng.choice([-1, 1]) * rng.uniform(0.25, 0.4)
    degrees = rng.choice([-1, 1]) * rng.uniform(8, 15)
    h = int(rng.integers(80, 140))
    paths = turned(paths, degrees, slant - hand.slant)
    return image_of(on_paper(centred(draw_pen(paths, hand, h), 1.6))), "PNG"


def thin_pen_on_ruled_paper(paths, hand, rng):
    h = int(rng.integers(100, 160))
    page = centred(draw_pen(paths, hand, h, pen=rng.uniform(0.018, 0.028)), 1.6)
    return image_of(on_paper(page, lines=ruled(page.shape, rng))), "PNG"


def photo_with_shadow(paths, hand, rng):
    h = int(rng.integers(60, 120))
    page = centred(draw_pen(paths, hand, h), 1.8)
    gray = on_paper(page, light=shadow(page.shape, rng, sharp=rng.random() < 0.5))
    return image_of(gray + rng.normal(0, 0.03, page.shape)), ("JPEG", 30)


def clean(paths, hand, rng):
    h = int(rng.integers(80, 140))
    return image_of(on_paper(centred(draw_pen(paths, hand, h), 1.6))), "PNG"


def scanned(pixels, enlarge, resample):
    def condition(paths, hand, rng):
        return scan(draw_pen(paths, hand, int(rng.integers(48, 80))), pixels, enlarge,
                    resample), "PNG"
    return condition


# condition -> function(paths, hand, page rng) -> (PIL image, file format)
CONDITIONS = {
    "clean paper": clean,
    "scan 16x16, enlarged": scanned(16, 6, Image.BILINEAR),
    "scan 12x12, enlarged": scanned(12, 8, Image.BILINEAR),
    "scan 8x8, enlarged (blocky)": scanned(8, 12, Image.NEAREST),
    "thin pen on ruled paper": thin_pen_on_ruled_paper,
    "slanted 14-22 deg and rotated 8-15 deg": slanted_and_rotated,
    "photo: shadow, noise, JPEG 30": photo_with_shadow,
}


def generate(per_style, seed, conditions=None, styles=None):
    """Yield a Sample for every (digit, style, sample, condition) asked for:
    ``per_style`` samples of each style (all of STYLE_NAMES unless ``styles``
    names some), each under every condition (all of CONDITIONS unless
    ``conditions`` names some). The strokes and hand come from (seed, digit,
    style, sample); each page from those and the condition."""
    wanted = list(CONDITIONS) if conditions is None else list(conditions)
    for digit in sorted(STYLES):
        for index, (name, aspect, strokes) in enumerate(STYLES[digit]):
            if styles is not None and name not in styles:
                continue
            for sample in range(per_style):
                paths, hand = free_strokes(strokes, aspect,
                                           np.random.default_rng([seed, digit, index, sample]))
                for condition in wanted:
                    page_rng = np.random.default_rng(
                        [seed, digit, index, sample, 1 + list(CONDITIONS).index(condition)])
                    image, fmt = CONDITIONS[condition](paths, hand, page_rng)
                    yield Sample(condition, name, hand, digit, encode(image, fmt), image)
