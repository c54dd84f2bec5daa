"""Drawing digits on paper for the handwriting benchmark's two tiers: points of
a pen's path, and the page under it (paper, printed lines, light, the file).

Ink arrays are floats in [0, 1] (1 = full ink) on an all-zero background;
``on_paper`` turns them into a gray photo of the page (0 black, 1 white).
"""
import io

import numpy as np
from PIL import Image, ImageDraw


def arc(cx, cy, rx, ry, start, stop, n=24):
    """Points on an ellipse from angle ``start`` to ``stop`` degrees (0 = right,
    90 = down, since y grows downwards; stop < start goes the other way)."""
    t = np.deg2rad(np.linspace(start, stop, n))
    return list(zip(cx + rx * np.cos(t), cy + ry * np.sin(t)))


def rotated(strokes, degrees):
    """The strokes turned ``degrees`` clockwise on paper (y points down)."""
    t = np.deg2rad(degrees)
    turn = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    centre = np.concatenate(strokes).mean(axis=0)
    return [(s - centre) @ turn.T + centre for s in strokes]


def place(ink, shape, top, left):
    """``ink`` pasted into an all-zero array of ``shape`` at (top, left), clipped."""
    page = np.zeros(shape)
    h, w = min(ink.shape[0], shape[0] - top), min(ink.shape[1], shape[1] - left)
    page[top:top + h, left:left + w] = ink[:h, :w]
    return page


def centred(ink, margin):
    """``ink`` on a page ``margin`` times its size, in the middle."""
    shape = (int(ink.shape[0] * margin), int(ink.shape[1] * margin + ink.shape[0] * 0.3))
    return place(ink, shape, (shape[0] - ink.shape[0]) // 2, (shape[1] - ink.shape[1]) // 2)


def on_paper(ink, paper=0.92, pen=0.12, light=None, lines=None):
    """Gray paper reflectance with the ink on it, times the light falling on it.
    ``lines``: printed lines under the ink, as a fraction of the ink's darkness."""
    reflect = np.full(ink.shape, paper)
    if lines is not None:
        reflect = reflect - lines * (paper - pen)
    reflect = reflect * (1 - ink) + pen * ink
    return reflect if light is None else reflect * light


def ruled(shape, rng, grid=False):
    """Lines 20-40 % as dark as the ink, every ~ 1/4 of the page (ruled) or
    1/6 (grid), 1-2 px wide, tilted up to a degree."""
    h, w = shape
    spacing = rng.uniform(0.22, 0.3) * h if not grid else rng.uniform(0.14, 0.2) * h
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    tilt = np.tan(np.deg2rad(rng.uniform(-1, 1)))
    width = rng.uniform(1.0, 2.0)
    strength = rng.uniform(0.2, 0.4)

    def stripes(coord):
        phase = (coord + rng.uniform(0, spacing)) % spacing
        distance = np.minimum(phase, spacing - phase)  # to the nearest line's middle
        return np.clip(width / 2 + 0.5 - distance, 0, 1)  # anti-aliased coverage
    lines = stripes(yy + tilt * xx)
    if grid:
        lines = np.maximum(lines, stripes(xx - tilt * yy))
    return strength * lines


def shadow(shape, rng, sharp):
    """Light falling on the page: a hand's shadow whose edge crosses the page
    near the digit, sharp (1-2 px) or smooth (a third of the page)."""
    h, w = shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    angle = rng.uniform(0, 2 * np.pi)
    d = (xx - w / 2) * np.cos(angle) + (yy - h / 2) * np.sin(angle) - rng.uniform(-0.15, 0.15) * w
    soft = rng.uniform(0.5, 1.5) if sharp else 0.3 * max(h, w)
    dark = rng.uniform(0.35, 0.55)  # the shadow keeps 35-55 % of the light
    return dark + (1 - dark) * 0.5 * (1 + np.tanh(d / (2 * soft)))  # a logistic step


def image_of(gray):
    return Image.fromarray(np.round(np.clip(gray, 0, 1) * 255).astype(np.uint8))


def encode(image, fmt):
    """The bytes a camera or a drawing program would have saved."""
    buffer = io.BytesIO()
    if isinstance(fmt, tuple):
        image.save(buffer, format=fmt[0], quality=fmt[1])
    else:
        image.save(buffer, format=fmt)
    buffer.seek(0)
    return buffer


def canvas_for(points, scale, margin, supersample):
    """A black canvas for pen paths through ``points`` (n, 2), drawn ``scale``
    pixels per unit with ``margin`` pixels round them (and one output pixel
    more), its size a multiple of ``supersample`` so that it averages down
    evenly. Returns (canvas, its drawing context, a function mapping points
    to canvas pixels)."""
    lo = points.min(axis=0)
    size = np.ceil((points.max(axis=0) - lo) * scale + 2 * margin + 2 * supersample).astype(int)
    size = (size + supersample - 1) // supersample * supersample
    canvas = Image.new("L", tuple(size), 0)
    return canvas, ImageDraw.Draw(canvas), lambda p: (p - lo) * scale + margin + supersample
