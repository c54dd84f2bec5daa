"""experiments/tune.py: a tiny grid on a small synthetic MNIST-shaped data set (conftest's
``quadrants``, whose test set disagrees with its validation set), in two worker
processes; the CSV, plot and best command; resuming after a stop."""
import csv

import pytest

from experiments import tune


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run(data, out, capsys, *extra):
    tune.main(["--data", data, "--out", str(out), "--val-size", "200", "--epochs", "2",
               "--workers", "2", "--hidden", "8", "16", "--lr", "1e-3", "1e-2", *extra])
    return capsys.readouterr().out


def test_grid_search_outputs_and_resume(quadrants, tmp_path, capsys):
    out = run(quadrants, tmp_path, capsys, "--reg", "0")
    assert "4 trials" in out and "0 already" in out and "4 to run" in out
    assert "left ~" in out  # progress with an estimate of the time left
    rows = read_csv(tmp_path / "trials.csv")
    assert len(rows) == 4
    assert {(r["hidden"], float(r["lr"])) for r in rows} == {
        (h, lr) for h in ("8", "16") for lr in (1e-3, 1e-2)}
    assert all(r["status"] == "ok" for r in rows)
    assert (tmp_path / "tune.png").stat().st_size > 0
    best = (tmp_path / "best.txt").read_text()
    top = max(rows, key=lambda r: float(r["val_accuracy"]))
    assert f"val_accuracy {float(top['val_accuracy']):.4f}" in best
    assert f"python train.py --hidden {top['hidden']} --lr {float(top['lr']):g}" in best
    # The winner, retrained with its seed, reproduces its validation score.
    assert f"retrained: val_accuracy {float(top['val_accuracy']):.4f}, test_accuracy" in best
    assert float(top["val_accuracy"]) > 0.5  # it learned something (chance is 0.25)
    # The test labels are the next quadrant's: a net that learned the task scores
    # near 0 there. So trials were scored on validation (a trial scored on test
    # would be near 0 above), and the test set is the winner's alone.
    test_accuracy = float(best.split("test_accuracy ")[1].split()[0])
    assert test_accuracy < 0.25 < 0.5 < float(top["val_accuracy"])

    # Interrupted and restarted with a larger grid: only the new trials run.
    out = run(quadrants, tmp_path, capsys, "--reg", "0", "1e-3")
    assert "8 trials" in out and "4 already" in out and "4 to run" in out
    rows2 = read_csv(tmp_path / "trials.csv")
    assert len(rows2) == 8 and rows2[:4] == rows  # earlier rows untouched
    # A half-written last line (killed mid-write) is ignored and rerun.
    with open(tmp_path / "trials.csv", "a") as f:
        f.write("16,0.01,0.0,0.0,adam,2,64,const")
    out = run(quadrants, tmp_path, capsys, "--reg", "0", "1e-3", "--no-test")
    assert "8 already" in out and "0 to run" in out
    assert "test_accuracy" not in (tmp_path / "best.txt").read_text()


def test_random_search_is_seeded_and_in_range():
    args = tune.parse_args(["--search", "random", "--trials", "30", "--lr", "1e-4", "1e-2",
                            "--reg", "0", "1e-5", "1e-3", "--hidden", "100", "128-64"])
    trials = tune.make_trials(args)
    assert len(trials) == 30
    assert all(1e-4 <= t["lr"] <= 1e-2 for t in trials)
    assert all(t["l2"] == 0 or 1e-5 <= t["l2"] <= 1e-3 for t in trials)
    assert {t["hidden"] for t in trials} == {"100", "128-64"}
    assert 0 < sum(t["l2"] == 0 for t in trials) < 30
    assert trials == tune.make_trials(args)


def test_assignment_grid_is_the_default():
    args = tune.parse_args([])
    trials = tune.make_trials(args)
    assert len(trials) == 3 * 4 * 4
    assert {t["hidden"] for t in trials} == {"100", "200", "500"}
    assert {t["lr"] for t in trials} == {1e-4, 5e-4, 1e-3, 5e-3}
    assert {t["l2"] for t in trials} == {0, 1e-5, 1e-4, 1e-3}
    quick = tune.parse_args(["--quick"])
    assert (quick.epochs, quick.train_size) == (2, 5000)


def test_bad_data_path_is_one_line_error(tmp_path):
    with pytest.raises(SystemExit) as e:
        tune.main(["--data", str(tmp_path / "missing.npz"), "--out", str(tmp_path)])
    assert str(e.value).startswith("error:") and "\n" not in str(e.value)
