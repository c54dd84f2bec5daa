"""How well ``predict.py --number`` reads whole numbers: generated 2- to 6-digit numbers.

    python -m handwriting.numbers_benchmark                  # docs/reports/numbers.md, .json,
                                                             # docs/images/numbers_samples.png
    python -m handwriting.numbers_benchmark --per-length 5 --out /tmp/numbers   # quicker

Each number's digits are drawn by handwriting/benchmark.py's generator (its
strokes, styles, wobble, slant and pen pressure: one person's version of each
digit), with one pen and about one height for the whole number, bottoms level
give or take a little, and set side by side: APART (the closest ink of two
neighbours 10-35 % of the digits' height apart, row by row) or TOUCHING (each
digit moved left until its ink overlaps its neighbour's by a third of a pen's
width). Each number is then put on paper under each condition: clean paper,
ruled paper, a thin pen, a shadow (smooth or sharp-edged) and a photo (small in
a large noisy picture, saved as JPEG).

Every picture is encoded to PNG or JPEG bytes and read by read.read_number,
exactly as ``python predict.py --number`` reads a file, with the default
reading model (read.default_model()). Reports, per condition and spacing:
whole numbers read right (all lengths, and 4-digit ones), numbers cut into
the right count of digits, digits read right (in the numbers cut right), and
what went wrong in the others. The same seed gives the same numbers.
"""
import collections
import os
import sys
import time

import numpy as np

from cli import make_parser, positive_int, report_folders, single_blas_thread
from data import DataError
from fileio import save_figure, tile, write_atomically, write_json
from handwriting import benchmark as hb
from handwriting import drawing
from handwriting.read import ROOT, default_model, load_model, read_number

CONDITIONS = ["clean paper", "ruled paper", "thin pen", "shadow", "photo"]
SPACINGS = ["apart", "touching"]
LENGTHS = range(2, 7)
TARGET = 0.90  # whole 4-digit numbers read right, apart, on clean and ruled paper (issue 18)
TARGET_ROWS = [("clean paper", "apart"), ("ruled paper", "apart")]


# ---- drawing a number ------------------------------------------------------------
def first_ink(patch, axis_flip):
    """Per row, the column of the first (or with ``axis_flip`` the last) clearly
    inked pixel of ``patch``; NaN for a row without ink."""
    ink = patch > 0.5
    if axis_flip:
        ink = ink[:, ::-1]
    first = np.argmax(ink, axis=1).astype(np.float64)
    first[~ink.any(axis=1)] = np.nan
    return patch.shape[1] - 1 - first if axis_flip else first


def side_by_side(patches, gaps, rng, height):
    """The digits' ink ``patches`` left to right on one array, bottoms level
    give or take 4 % of ``height``: each one placed so that its closest ink
    to the ink before it, row by row, is ``gaps[k]`` pixels (negative: that
    much overlap - touching)."""
    bottoms = [int(rng.integers(0, max(1, round(0.04 * height)))) for _ in patches]
    tall = max(p.shape[0] + b for p, b in zip(patches, bottoms))
    page = np.zeros((tall, sum(p.shape[1] for p in patches) + int(height) * len(patches)))
    right = 0  # one past the last column used so far
    for k, patch in enumerate(patches):
        top = tall - bottoms[k] - patch.shape[0]
        if k == 0:
            left = 0
        else:
            # The page's last inked column and the patch's first, row by row.
            rows = slice(top, top + patch.shape[0])
            before = first_ink(page[rows, :right], axis_flip=True)
            after = first_ink(patch, axis_flip=False)
            distance = after - before  # with the patch at column 0
            closest = np.nanmin(distance) if np.isfinite(distance).any() else -right
            left = int(round(gaps[k - 1] - closest))
            left = max(0, left)
        page[top:top + patch.shape[0], left:left + patch.shape[1]] = np.maximum(
            page[top:top + patch.shape[0], left:left + patch.shape[1]], patch)
        right = max(right, left + patch.shape[1])
    return page[:, :right]


def number_ink(digits, key, height, pen, spacing, rng):
    """The ink of ``digits`` (a string) written ``height`` pixels tall with a pen
    ``pen`` pixels wide, set ``spacing`` ("apart" or "touching"). Each digit's
    strokes come from (key, its position), so a number is written the same
    way in every condition and spacing; sizes and gaps come from ``rng``."""
    patches = []
    for k, digit in enumerate(digits):
        strokes, pressure = hb.handwritten_strokes(int(digit), np.random.default_rng(key + [k]))
        patches.append(hb.draw_ink(strokes, pressure, height * rng.uniform(0.92, 1.08), pen))
    if spacing == "apart":
        gaps = rng.uniform(0.10, 0.35, len(digits)) * height
    else:
        gaps = np.full(len(digits), -max(1.0, pen / 3))
    return side_by_side(patches, gaps, rng, height)


def condition_image(digits, key, condition, spacing):
    """(PIL image, format) of the number ``digits`` (strokes from ``key``)
    under ``condition``, set ``spacing``."""
    rng = np.random.default_rng(key + [SPACINGS.index(spacing), CONDITIONS.index(condition)])
    if condition == "thin pen":
        ink = number_ink(digits, key, 150, 150 * rng.uniform(0.018, 0.025), spacing, rng)
        return drawing.image_of(drawing.on_paper(drawing.centred(ink, 1.6))), "PNG"
    if condition == "photo":
        small = int(rng.integers(30, 46))
        ink = number_ink(digits, key, small, small * rng.uniform(0.08, 0.12), spacing, rng)
        shape = (480, max(640, ink.shape[1] + 100))
        photo = drawing.place(ink, shape, int(rng.integers(50, shape[0] - ink.shape[0] - 50)),
                         int(rng.integers(50, shape[1] - ink.shape[1] - 49)))
        noisy = drawing.on_paper(photo) + rng.normal(0, 0.02, photo.shape)
        return drawing.image_of(noisy), ("JPEG", 70)
    height = int(rng.integers(90, 140))
    pen = height * rng.uniform(0.07, 0.11)
    page = drawing.centred(number_ink(digits, key, height, pen, spacing, rng), 1.6)
    if condition == "clean paper":
        return drawing.image_of(drawing.on_paper(page)), "PNG"
    if condition == "ruled paper":
        return drawing.image_of(drawing.on_paper(page, lines=drawing.ruled(page.shape, rng))), "PNG"
    if condition == "shadow":
        light = drawing.shadow(page.shape, rng, sharp=bool(rng.random() < 0.5))
        return drawing.image_of(drawing.on_paper(page, light=light)), "PNG"
    raise ValueError(f"unknown condition {condition!r}; the conditions are {CONDITIONS}")


def generate(per_length, seed, conditions=CONDITIONS, spacings=SPACINGS, lengths=LENGTHS):
    """Yield (condition, spacing, number as a string, encoded bytes, image) for
    every picture. A number's digits and strokes come from (seed, length,
    sample), its page from those and the condition and spacing: the same
    pictures in any subset of conditions, spacings or lengths."""
    for length in lengths:
        for sample in range(per_length):
            key = [seed, length, sample]
            digits = "".join(str(d) for d in np.random.default_rng(key).integers(0, 10, length))
            for spacing in spacings:
                for condition in conditions:
                    image, fmt = condition_image(digits, key, condition, spacing)
                    yield condition, spacing, digits, drawing.encode(image, fmt), image


# ---- reading and scoring ------------------------------------------------------------
def read_all(model, buffers):
    """What read_number makes of each picture: (number as a string or None when
    refused, the 28x28 images seen) per picture."""
    out = []
    for buffer in buffers:
        buffer.seek(0)
        try:
            digits = read_number(model, buffer)
        except ValueError:  # blank, too many digits: predict.py refuses it
            out.append((None, np.zeros((0, 28, 28))))
            continue
        out.append(("".join(model.classes[int(np.argmax(p))] for _, p, _, _ in digits),
                    np.array([image for image, _, _, _ in digits])))
    return out


def failure(truth, read):
    """What went wrong reading the number ``truth`` as ``read``, or None."""
    if read == truth:
        return None
    if read is None:
        return "refused"
    if len(read) > len(truth):
        return "cut into too many"
    if len(read) < len(truth):
        return "cut into too few"
    return "a digit misread"


def score(truth, read):
    """Scores of one group of numbers: whole numbers right (all, 4-digit),
    cut into the right count, digits right in those cut right, failures."""
    whole = [t == r for t, r in zip(truth, read)]
    counted = [(t, r) for t, r in zip(truth, read) if r is not None and len(r) == len(t)]
    digits = [a == b for t, r in counted for a, b in zip(t, r)]
    lengths = sorted({len(t) for t in truth})
    by_length = {n: float(np.mean([w for t, w in zip(truth, whole) if len(t) == n]))
                 for n in lengths}
    return {"numbers": len(truth), "whole": float(np.mean(whole)), "by_length": by_length,
            "four_digit": by_length.get(4),
            "count_right_by_length": {
                n: float(np.mean([r is not None and len(r) == n for t, r in zip(truth, read)
                                  if len(t) == n])) for n in lengths},
            "count_right": len(counted) / len(truth),
            "digits": float(np.mean(digits)) if digits else None,
            "failures": dict(collections.Counter(
                f for f in (failure(t, r) for t, r in zip(truth, read)) if f)),
            "examples": [f"{t} as {r or 'refused'}" for t, r in zip(truth, read) if t != r][:4]}


def sample_picture(path, samples):
    """For each (condition, spacing): one picture as drawn, and below it the
    28x28 images the network saw, labelled with what it read."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(len(samples), 2, figsize=(10, 1.25 * len(samples)),
                             gridspec_kw={"width_ratios": [1.2, 1]})
    for (label, image, truth, read, seen), (ax_in, ax_seen) in zip(samples, axes):
        ax_in.imshow(image, cmap=None if image.mode == "RGB" else "gray", vmin=0, vmax=255)
        ax_in.set_ylabel(label.replace(", ", "\n"), rotation=0, ha="right", va="center",
                         fontsize=8)
        if len(seen):
            mosaic, _ = tile(seen, cols=len(seen))
            ax_seen.imshow(mosaic, cmap="gray", vmin=0, vmax=1)
        ax_seen.set_title(f"written {truth}, read {read or 'refused'}", fontsize=8,
                          color="black" if read == truth else "firebrick")
        for ax in (ax_in, ax_seen):
            ax.set_xticks([])
            ax.set_yticks([])
    fig.suptitle("Numbers as written (left) and the 28x28 images the network saw (right)",
                 fontsize=10)
    fig.tight_layout()
    save_figure(fig, path)


def percent(fraction):
    return "-" if fraction is None else f"{fraction:.1%}"


def markdown(report):
    """The report as the Markdown of docs/reports/numbers.md."""
    lines = ["# Numbers benchmark\n",
             f"Made by `{report['command']}` (seed {report['seed']}, {report['per_length']} "
             f"numbers of each length {LENGTHS.start}-{LENGTHS.stop - 1} per condition and "
             f"spacing, {report['pictures']} pictures, model `{report['model']}`, "
             f"{report['seconds']:.0f} s at load {report['load']}).\n",
             "Whole numbers read right (all lengths; 4-digit ones), numbers cut into the "
             "right count of digits, and digits read right in those:\n",
             "| condition | spacing | whole numbers | 4-digit numbers | cut right | digits | "
             "what went wrong (examples: written as read) |",
             "|---|---|---:|---:|---:|---:|---|"]
    for row in report["rows"]:
        s = row["scores"]
        wrong = ", ".join(f"{kind} {n}" for kind, n in sorted(s["failures"].items()))
        examples = "; ".join(s["examples"])
        lines.append(f"| {row['condition']} | {row['spacing']} | {percent(s['whole'])} | "
                     f"{percent(s['four_digit'])} | {percent(s['count_right'])} | "
                     f"{percent(s['digits'])} | {wrong}{': ' + examples if examples else ''} |")
    lines.append("")
    lengths = list(report["rows"][0]["scores"]["by_length"])
    lines += ["By length: whole numbers read right, and (in brackets) cut into the right "
              "count of digits:\n",
              "| condition | spacing | " + " | ".join(f"{n} digits" for n in lengths) + " |",
              "|---|---|" + "---:|" * len(lengths)]
    for row in report["rows"]:
        s = row["scores"]
        lines.append(f"| {row['condition']} | {row['spacing']} | " + " | ".join(
            f"{percent(s['by_length'][n])} ({percent(s['count_right_by_length'][n])})"
            for n in lengths) + " |")
    lines.append("")
    lines.append(f"Target: whole 4-digit numbers read right at least {TARGET:.0%} of the time "
                 "when the digits are apart, on clean and ruled paper: "
                 + ", ".join(f"{c} {percent(report['target'][c])}" for c, _ in TARGET_ROWS)
                 + ".\n")
    return "\n".join(lines) + "\n"


def parse_args(argv=None):
    p = make_parser("Read generated handwritten numbers (2 to 6 digits, apart and touching) "
                    "under the conditions a person meets, as predict.py --number does, and "
                    "report whole-number and digit accuracy.", __spec__)
    p.add_argument("--per-length", type=positive_int, default=40,
                   help="numbers of each length per condition and spacing")
    p.add_argument("--seed", type=int, default=0, help="seed of everything drawn")
    p.add_argument("--model", default=None,
                   help="weights to read with (default: as predict.py, read.default_model())")
    p.add_argument("--out", default=None,
                   help="write the report and picture here instead of docs/reports/ and "
                   "docs/images/")
    return p.parse_args(argv)


def main(argv=None):
    single_blas_thread()
    args = parse_args(argv)
    model_path = args.model or default_model()
    try:
        model = load_model(model_path)
    except ValueError as e:
        sys.exit(f"error: {e}")
    try:  # before the long part, so a bad --out fails at once
        docs, assets = report_folders(args.out)
    except DataError as e:
        sys.exit(f"error: {e}")
    command = "python -m handwriting.numbers_benchmark" + (
        " " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    run(model, model_path, args.per_length, args.seed, docs, assets, command)


def run(model, model_path, per_length, seed, docs, assets, command):
    """The benchmark: ``per_length`` numbers of each length per condition and
    spacing, read by ``model`` (saved at ``model_path``); prints the table and
    writes numbers.md and .json to ``docs``, numbers_samples.png to ``assets``.
    Returns the paths written. ``command`` is what the report says made it."""
    started = time.perf_counter()
    pictures = list(generate(per_length, seed))
    readings = read_all(model, [buffer for _, _, _, buffer, _ in pictures])
    rows, samples = [], []
    for spacing in SPACINGS:
        for condition in CONDITIONS:
            picks = [i for i, (c, s, _, _, _) in enumerate(pictures)
                     if c == condition and s == spacing]
            truth = [pictures[i][2] for i in picks]
            read = [readings[i][0] for i in picks]
            rows.append({"condition": condition, "spacing": spacing,
                         "scores": score(truth, read)})
            # The sample: the first 4-digit number, else the first number.
            i = next((i for i in picks if len(pictures[i][2]) == 4), picks[0])
            samples.append((f"{condition}, {spacing}", pictures[i][4], pictures[i][2],
                            readings[i][0], readings[i][1]))
    report = {"command": command,
              "seed": seed, "per_length": per_length, "pictures": len(pictures),
              "model": os.path.relpath(model_path, ROOT), "rows": rows,
              "target": {c: next(r["scores"]["four_digit"] for r in rows
                                 if r["condition"] == c and r["spacing"] == s)
                         for c, s in TARGET_ROWS}}
    report["seconds"] = time.perf_counter() - started
    report["load"] = f"{os.getloadavg()[0]:.1f}"
    print(f"{'condition':14s}{'spacing':10s}{'whole':>8s}{'4-digit':>9s}{'cut right':>11s}"
          f"{'digits':>8s}  what went wrong")
    for row in rows:
        s = row["scores"]
        print(f"{row['condition']:14s}{row['spacing']:10s}{percent(s['whole']):>8s}"
              f"{percent(s['four_digit']):>9s}{percent(s['count_right']):>11s}"
              f"{percent(s['digits']):>8s}  "
              + ", ".join(f"{k} {n}" for k, n in sorted(s["failures"].items())))
    print(f"{len(pictures)} pictures in {report['seconds']:.0f} s (load {report['load']})")
    write_json(os.path.join(docs, "numbers.json"), report, indent=1)
    write_atomically(os.path.join(docs, "numbers.md"),
                     lambda f: f.write(markdown(report).encode()))
    sample_picture(os.path.join(assets, "numbers_samples.png"), samples)
    print(f"wrote {os.path.join(docs, 'numbers.md')} (and .json), "
          f"{os.path.join(assets, 'numbers_samples.png')}")
    return [os.path.join(docs, "numbers.md"), os.path.join(docs, "numbers.json"),
            os.path.join(assets, "numbers_samples.png")]


if __name__ == "__main__":
    main()
