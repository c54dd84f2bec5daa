"""Whole numbers: handwriting/numbers.py's steps on pictures whose digits are
known, a slice of handwriting/numbers_benchmark.py, and predict.py --number."""
import json

import numpy as np
import pytest
from PIL import Image, ImageDraw

from conftest import run_script
from handwriting import numbers, numbers_benchmark as nb
from handwriting.read import default_model, load_model, read_number
from test_serve import number_drawing

# pytest resets the warning filters for each test, undoing preprocess's filter for
# Pillow's warning about images over 89 MP (test_read_gray.py checks it for users).
pytestmark = pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")

HEIGHT = 100  # the digits' height in the pictures drawn here, in pixels
PEN = 8


def page(strokes, width=400, height=160, dots=()):
    """A white page (values in [0, 1]) with ``strokes`` (lists of (x, y) pixel
    points) drawn in dark ink PEN pixels wide with round ends, and round
    ``dots`` ((x, y) centres) of the same pen."""
    image = Image.new("L", (width, height), 240)
    draw = ImageDraw.Draw(image)
    r = PEN / 2
    for stroke in strokes:
        draw.line(stroke, fill=20, width=PEN)
        for x, y in stroke:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=20)
    for x, y in dots:
        draw.ellipse([x - r, y - r, x + r, y + r], fill=20)
    return np.asarray(image, dtype=np.float64) / 255


def columns(digits):
    return [(d.box[1], d.box[3]) for d in digits]


# ---- the steps, on pictures whose digits are known -------------------------------
def test_two_separate_digits_give_two_crops_left_to_right():
    one = [(320, 30), (320, 130)]  # drawn first, but on the right
    seven = [(60, 30), (130, 30), (90, 130)]
    digits = numbers.find_digits(page([one, seven]))
    assert len(digits) == 2
    (left0, right0), (left1, right1) = columns(digits)
    assert left0 < 70 and 125 < right0 < 140 and 310 < left1 and right1 < 330
    # Each crop holds its own digit's ink only: the 7's bar is wide, the 1 is not.
    assert digits[0].ink.shape[1] > 2 * digits[1].ink.shape[1]


def test_slanted_digits_side_by_side_stay_two():
    """Two 1s leaning right, 10 pixels of paper apart: their columns overlap by
    more than half, but they share their rows - side by side, not stacked."""
    digits = numbers.find_digits(page([[(100, 130), (140, 30)], [(118, 130), (158, 30)]]))
    assert len(digits) == 2 and columns(digits)[0][0] < columns(digits)[1][0]


def test_a_five_in_two_strokes_is_one_digit():
    """The flag drawn as its own stroke, clear of the body, on the rows where
    the body starts: a fragment that joins the digit whose columns it
    overlaps, not its neighbour."""
    body = [(108, 30), (105, 80), (140, 74), (160, 96), (155, 122), (130, 130), (105, 120)]
    flag = [(122, 30), (165, 30)]  # 6 pixels of paper between it and the body
    one = [(215, 30), (215, 130)]
    digits = numbers.find_digits(page([body, flag, one]))
    assert len(digits) == 2
    assert columns(digits)[0][1] >= 165 + PEN // 2  # the flag is in the 5's box
    assert columns(digits)[1][0] > 205


def ring(x, y=80, rx=35, ry=50, gap=0.0):
    """A 0 as a ring of points; with ``gap``, as two halves, the angle ``gap``
    (radians) short of meeting at the top and at the bottom."""
    if not gap:
        return [(x + rx * np.cos(t), y + ry * np.sin(t)) for t in np.linspace(0, 2 * np.pi, 40)]
    return [[(x + rx * np.cos(t), y + ry * np.sin(t)) for t in np.linspace(a + gap, b - gap, 20)]
            for a, b in ((-np.pi / 2, np.pi / 2), (np.pi / 2, 3 * np.pi / 2))]


def test_a_broken_stroke_stays_one_digit():
    """A 0 whose halves do not meet, by 2 pixels, at the top or the bottom
    (bridged); a 1 broken by a wide gap (two pieces one above the other:
    stacked); and a 7 whose stem is dotted."""
    one = [[(160, 30), (160, 85)], [(160, 105), (160, 130)]]
    seven_bar = [(260, 30), (330, 30)]
    dots = [(330 - 7 * k, 30 + 14 * k) for k in range(1, 8)]
    digits = numbers.find_digits(page(ring(60, gap=0.15) + one + [seven_bar], dots=dots))
    assert len(digits) == 3
    assert [left // 100 for left, _ in columns(digits)] == [0, 1, 2]


@pytest.mark.parametrize("shift", [0, 20])
def test_two_touching_digits_are_cut_apart(shift):
    """Two 0s whose rings touch: one piece of ink twice as wide as a digit, cut
    where the ink above and below spans the fewest rows - where they touch,
    not through a ring, whose top and bottom cross every column (they have
    less ink there). Shifted up, the right ring still goes whole to its side."""
    gray = page([ring(60), ring(60 + 2 * 35 + PEN - 2, y=80 - shift)], height=200)
    assert len(numbers.components(gray < 0.5)[1]) == 1  # they do touch
    digits = numbers.find_digits(gray)
    assert len(digits) == 2
    (_, cut), (cut_again, _) = columns(digits)
    touch = 60 + 35 + PEN // 2
    assert cut == cut_again and abs(cut - touch) <= PEN
    # Each crop holds one whole ring: as tall as it, and as wide give or take the cut.
    for digit in digits:
        top, left, bottom, right = digit.box
        assert abs(bottom - top - (2 * 50 + PEN)) <= 2 and abs(right - left - (2 * 35 + PEN)) <= PEN


def test_specks_and_printed_lines_are_not_digits():
    two_ones = [[(100, 40), (100, 130)], [(200, 40), (200, 130)]]
    gray = page(two_ones, dots=[(350, 20)])  # a speck far from both
    gray[[60, 110], :] = np.minimum(gray[[60, 110], :], 0.75)  # faint ruled lines
    gray[145, :] = 0.1  # and a dark one, below the digits
    assert len(numbers.find_digits(gray)) == 2


def test_no_ink_and_too_many_digits_are_refused(monkeypatch):
    with pytest.raises(numbers.BlankImage):
        numbers.find_digits(np.full((100, 300), 0.9))
    gray = page([[(40 + 40 * k, 40), (40 + 40 * k, 130)] for k in range(9)])
    assert len(numbers.find_digits(gray)) == 9
    monkeypatch.setattr(numbers, "MAX_DIGITS", 8)
    with pytest.raises(numbers.TooManyDigits, match="9 found, the limit is 8"):
        numbers.find_digits(gray)
    monkeypatch.setattr(numbers, "MAX_DIGITS", 2)  # refused before they are put together
    with pytest.raises(numbers.TooManyDigits, match=r"too many pieces of ink \(9\) for a "
                       "number of at most 2 digits"):
        numbers.find_digits(gray)


# ---- the numbers benchmark ------------------------------------------------------------
@pytest.fixture(scope="module")
def benchmark_slice():
    """4-digit numbers on clean and ruled paper, apart: the benchmark's target rows."""
    return list(nb.generate(3, 0, conditions=["clean paper", "ruled paper"],
                            spacings=["apart"], lengths=[4]))


def test_benchmark_draws_the_same_numbers_every_time(benchmark_slice):
    again = nb.generate(3, 0, conditions=["clean paper", "ruled paper"], spacings=["apart"],
                        lengths=[4])
    for (*_, a, _), (*_, b, _) in zip(benchmark_slice, again):
        assert a.getvalue() == b.getvalue()
    assert len({number for _, _, number, _, _ in benchmark_slice}) == 3


def test_benchmark_slice_is_cut_and_read(benchmark_slice):
    """Every number is cut into its 4 digits; the reading model reads nearly all."""
    model = load_model(default_model())
    readings = nb.read_all(model, [buffer for _, _, _, buffer, _ in benchmark_slice])
    truth = [number for _, _, number, _, _ in benchmark_slice]
    assert [len(seen) for _, seen in readings] == [4] * len(truth)
    scores = nb.score(truth, [read for read, _ in readings])
    assert scores["count_right"] == 1 and scores["digits"] >= 0.9


def test_touching_numbers_touch_and_apart_ones_do_not():
    for spacing, pieces in (("apart", 4), ("touching", 1)):
        key = [0, 4, 1]
        ink = nb.number_ink("1234", key, 100, 9, spacing, np.random.default_rng(2))
        assert len(numbers.components(ink > 0.5)[1]) == pieces


@pytest.mark.slow  # the whole command
def test_benchmark_command_writes_its_report(tmp_path):
    result = run_script("handwriting/numbers_benchmark.py", "--per-length", "1",
                        "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "numbers.json").read_text())
    assert [(r["condition"], r["spacing"]) for r in report["rows"]] == [
        (c, s) for s in nb.SPACINGS for c in nb.CONDITIONS]
    assert all(r["scores"]["numbers"] == len(nb.LENGTHS) for r in report["rows"])
    assert "| clean paper | apart |" in (tmp_path / "numbers.md").read_text()
    assert (tmp_path / "numbers_samples.png").stat().st_size > 10000


def test_benchmark_refuses_an_unwritable_out_at_once(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_script("handwriting/numbers_benchmark.py", "--out", blocker / "sub")
    assert result.returncode != 0 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: --out")


# ---- predict.py --number ---------------------------------------------------------------
def test_read_number_reads_each_digit_as_a_single_digit_is_read(tmp_path):
    """Each digit of a number is read as a picture of that digit alone would be."""
    model = load_model(default_model())
    path = tmp_path / "2026.png"
    path.write_bytes(number_drawing("2026"))
    digits = read_number(model, path)
    assert "".join(str(int(np.argmax(p))) for _, p, _, _ in digits) == "2026"
    for image, probs, hidden, box in digits:
        assert image.shape == (28, 28) and probs.shape == (10,)
        assert [h.shape for h in hidden] == [(n,) for n in model.sizes[1:-1]]
        assert model.predict_proba(image.reshape(1, -1))[0] == pytest.approx(probs, abs=1e-6)


@pytest.fixture
def number_files(tmp_path):
    """Pictures for predict.py --number: name -> path."""
    files = {"2026": number_drawing("2026"), "7": number_drawing("7"),
             "fifty": number_drawing("0123456789" * 5)}
    paths = {}
    for name, data in files.items():
        paths[name] = tmp_path / f"{name}.png"
        paths[name].write_bytes(data)
    paths["blank"] = tmp_path / "blank.png"
    Image.new("L", (300, 100), 255).save(paths["blank"])
    paths["huge"] = tmp_path / "huge.png"
    Image.new("1", (10000, 10000), 1).save(paths["huge"])  # 100 megapixels in 12 kB
    return paths


def test_predict_number_prints_the_number_first(number_files):
    result = run_script("predict.py", "--number", number_files["2026"], number_files["7"],
                        number_files["fifty"])
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{number_files['2026']}: 2026    digits: 2: ")
    assert lines[0].count("%") == 4
    assert lines[1].startswith(f"{number_files['7']}: 7    digits: 7: ")  # one digit
    assert lines[2].startswith(f"{number_files['fifty']}: {'0123456789' * 5}    digits: ")


def test_predict_number_bad_input_is_one_line_and_the_rest_is_read(number_files, tmp_path):
    result = run_script("predict.py", "--number", number_files["blank"], number_files["huge"],
                        number_files["2026"], "--show", tmp_path / "seen")
    assert result.returncode == 1
    errors = result.stderr.splitlines()
    assert len(errors) == 2 and "Traceback" not in result.stderr
    assert errors[0] == f"error: {number_files['blank']}: blank image: no digit found " \
        "(contrast 0.000, noise 0.000)"
    assert errors[1].startswith(f"error: {number_files['huge']}: image too large: 10000x10000")
    assert result.stdout.startswith(f"{number_files['2026']}: 2026 ")
    seen = np.asarray(Image.open(tmp_path / "seen" / "2026.png"))
    assert seen.shape == (28, 4 * 28 + 3 * 2)  # the four digits side by side


def test_without_number_a_picture_is_one_digit_as_before(number_files):
    result = run_script("predict.py", number_files["7"])
    assert result.returncode == 0 and result.stdout.startswith(
        f"{number_files['7']}: 7    top 3: 7: ")
