"""Issue 14, command line: bad input is a usage error, files are whole, Ctrl-C is clean."""

import csv
import os

import jax
import numpy as np
import pytest

import jumpax as jx
from jumpax._files import atomic_write
from jumpax.apps import cli, fit, learn


@pytest.fixture
def nothing_runs(monkeypatch):
    """Fails the test if anything is simulated or fitted: every check must come first."""

    def forbidden(*args, **kwargs):
        raise AssertionError("work started before the arguments were checked")

    for module, name in [
        (cli, "simulate_ensemble"),
        (fit, "synthetic_snapshots"),
        (fit, "fit_rates"),
        (learn, "fit_surrogate"),
        (jx, "simulate"),
    ]:
        monkeypatch.setattr(module, name, forbidden)


def usage_error(capsys, argv):
    """Runs the command line, expecting argparse's usage error; returns the error line."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


def interrupt(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.fixture
def data_file(tmp_path):
    """A valid snapshot file: 60 cells at each of two times."""
    rng = np.random.default_rng(0)
    path = tmp_path / "cells.csv"
    rows = [f"{t:g},{m}" for t in (1.0, 5.0) for m in rng.poisson(8 * t, size=60)]
    path.write_text("time,count\n" + "\n".join(rows) + "\n")
    return path


# ------------------------------------------------------------------ 1. arguments are checked first
BAD_ARGUMENTS = [
    (["simulate", "birth_death", "--t1", "-1"], "--t1", "finite positive number"),
    (["simulate", "birth_death", "--t1", "0"], "--t1", "finite positive number"),
    (["simulate", "birth_death", "--t1", "nan"], "--t1", "finite positive number"),
    (["simulate", "birth_death", "--t1", "inf"], "--t1", "finite positive number"),
    (["simulate", "birth_death", "--t1", "abc"], "--t1", "positive number, got 'abc'"),
    (["simulate", "birth_death", "--seed", "-1"], "--seed", "integer from 0 to 4294967295"),
    (["simulate", "birth_death", "--seed", "1.5"], "--seed", "integer from 0 to 4294967295"),
    (["simulate", "birth_death", "--seed", str(2**32)], "--seed", "integer from 0"),
    (["simulate", "birth_death", "--n", "abc"], "--n", "positive integer"),
    (["simulate", "nope"], "model", "unknown model 'nope'"),
    (["simulate", "{tmp}/missing.xml"], "model", "no such SBML file"),
    (["simulate", "birth_death", "--out", "{tmp}/no/x.csv"], "--out", "does not exist"),
    (["simulate", "birth_death", "--out", "{tmp}/x.txt"], "--out", "unknown extension '.txt'"),
    (["simulate", "birth_death", "--out", "{tmp}/x"], "--out", "no extension"),
    (["simulate", "birth_death", "--out", "{tmp}/dir.csv"], "--out", "it is a folder"),
    (["simulate", "birth_death", "--plot", "{tmp}/x.xyz"], "--plot", "unknown extension"),
    (["simulate", "birth_death", "--save-at", "0,5,1000"], "--save-at", "must not exceed t1"),
    (["simulate", "birth_death", "--save-at", "0,5,2"], "--save-at", "strictly increasing"),
    (["fit", "--seed", "-1"], "--seed", "integer from 0"),
    (["fit", "--cells", "abc"], "--cells", "even integer"),
    (["fit", "--save-data", "{tmp}/no/d.csv"], "--save-data", "does not exist"),
    (["fit", "--plot", "{tmp}/f.csv"], "--plot", "unknown extension '.csv'"),
    (["fit", "--data", "{tmp}/absent.csv"], "--data", "No such file"),
    (["learn", "--t1", "0"], "--t1", "finite positive number"),
    (["learn", "--dt", "-2"], "--dt", "finite positive number"),
    (["learn", "--dt", "2", "--horizons", "3"], "--horizons", "multiples of dt"),
    (["learn", "--t1", "10", "--dt", "20"], "--dt", "exceeds t1"),
    (["learn", "--steps", "0"], "--steps", "positive integer"),
    (["learn", "--seed", "x"], "--seed", "integer from 0"),
    (["demo", "--out-dir", "{tmp}/file.txt"], "--out-dir", "not a folder"),
]


@pytest.mark.parametrize(("argv", "argument", "message"), BAD_ARGUMENTS)
def test_bad_arguments_are_one_line_usage_errors_before_any_work(
    tmp_path, capsys, nothing_runs, argv, argument, message
):
    (tmp_path / "dir.csv").mkdir()
    (tmp_path / "file.txt").write_text("")
    before = sorted(os.listdir(tmp_path))
    line = usage_error(capsys, [a.replace("{tmp}", str(tmp_path)) for a in argv])
    assert line.startswith(f"jumpax {argv[0]}: error: argument {argument}: ")
    assert message in line
    assert sorted(os.listdir(tmp_path)) == before


# ------------------------------------------------------------------ 2. files are whole or absent
@pytest.fixture(scope="module")
def small_results():
    net = jx.models.birth_death()
    return jx.simulate(jax.random.key(0), net, net.x0, 1.0, save_at=np.linspace(0, 1, 3),
                       num_trajectories=4)


class _CsvWriterInterruptedMidway:
    def __init__(self, handle):
        self.handle = handle

    def writerow(self, row):
        self.handle.write(",".join(map(str, row)) + "\n")

    def writerows(self, rows):
        self.writerow(next(iter(rows)))
        self.handle.flush()
        raise KeyboardInterrupt


def _savez_interrupted_midway(path, **arrays):
    with open(path, "wb") as handle:
        handle.write(b"PK\x03\x04 truncated archive")
    raise KeyboardInterrupt


@pytest.mark.parametrize("suffix", [".csv", ".npz"])
@pytest.mark.parametrize("previous", [None, "previous content\n"])
def test_interrupted_save_leaves_the_previous_file_or_none(
    tmp_path, monkeypatch, small_results, suffix, previous
):
    target = tmp_path / f"results{suffix}"
    if previous is not None:
        target.write_text(previous)
    monkeypatch.setattr(csv, "writer", _CsvWriterInterruptedMidway)
    monkeypatch.setattr(np, "savez_compressed", _savez_interrupted_midway)
    with pytest.raises(KeyboardInterrupt):
        small_results.save(target)
    assert os.listdir(tmp_path) == ([] if previous is None else [target.name])  # no temp file
    if previous is not None:
        assert target.read_text() == previous


def test_save_replaces_a_file_whole_and_keeps_its_permissions(tmp_path, small_results):
    target = tmp_path / "results.csv"
    target.write_text("old\n")
    target.chmod(0o640)
    small_results.save(target)
    assert target.read_text().startswith("trajectory,time,X\n")
    assert len(target.read_text().splitlines()) == 1 + 4 * 3
    assert target.stat().st_mode & 0o777 == 0o640
    assert os.listdir(tmp_path) == ["results.csv"]


def test_atomic_write_removes_the_temporary_file_on_any_error(tmp_path):
    target = tmp_path / "figure.png"
    with pytest.raises(RuntimeError, match="disk full"):
        with atomic_write(target) as temporary:
            assert temporary.parent == tmp_path and temporary.suffix == ".png"
            temporary.write_bytes(b"half a picture")
            raise RuntimeError("disk full")
    assert os.listdir(tmp_path) == []


def test_cli_interrupted_while_writing_leaves_nothing(tmp_path, capsys, monkeypatch):
    out = tmp_path / "x.npz"
    monkeypatch.setattr(np, "savez_compressed", _savez_interrupted_midway)
    status = cli.main(["simulate", "birth_death", "--t1", "1", "--n", "2", "--save-at", "3",
                       "--out", str(out), "--quiet"])
    assert status == 130
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == "jumpax: interrupted; nothing written"
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------ 3. fit data files are checked
BAD_DATA = [
    ("time,count\n1,3\nabc,3\n", "methods", "line 3, column 'time': 'abc' is not a number"),
    ("time,count\n1,3\nnan,3\n", "methods", "line 3, column 'time': 'nan' is not a finite"),
    ("time,count\n1,3\n2,x\n", "methods", "line 3, column 'count': 'x' is not a number"),
    ("time,count\n1,3\n2\n", "methods", "line 3, column 'count': missing value"),
    ("time,count\n1,2.5\n", "methods", "line 2, column 'count': counts must be non-negative whole"),
    ("time,count\n1,-1\n", "methods", "line 2, column 'count': counts must be non-negative whole"),
    ("time,count\n-1,2\n", "methods", "line 2, column 'time': times after induction must be"),
    ("time,count\n", "methods", "no cells"),
    ("t,n\n1,2\n", "methods", "columns 'time' and 'count'"),
    ("time,count\n0,0\n0,0\n", "methods", "last observation time must be positive"),
    ("time,count\n1,1\n1,2\n2,0\n2,0\n", "distribution", "has 0 mRNA"),
    ("time,count\n1,3\n2,5\n", "moments", "needs at least 4 different counts"),
    ("time,count\n1,1\n1,2\n1,3\n1,4\n", "distribution", "needs at least 40 cells"),
]


@pytest.mark.parametrize(("content", "method", "message"), BAD_DATA)
def test_fit_rejects_a_bad_data_file_naming_file_line_and_problem(
    tmp_path, capsys, nothing_runs, content, method, message
):
    path = tmp_path / "cells.csv"
    path.write_text(content)
    methods = ["both"] if method == "methods" else [method]
    for chosen in methods:
        line = usage_error(capsys, ["fit", "--data", str(path), "--method", chosen, "--quiet"])
        assert line.startswith(f"jumpax fit: error: argument --data: {path}")
        assert message in line


def test_read_snapshots_accepts_bom_blank_lines_and_extra_columns(tmp_path):
    path = tmp_path / "cells.csv"
    path.write_text("\ufeffcell, count ,time\n\na,3,2\nb,0,0.5\n\nc,4,2\n", encoding="utf-8")
    data = fit.read_snapshots(path)
    np.testing.assert_array_equal(data.times, [0.5, 2.0])
    np.testing.assert_array_equal(data.counts, [3, 0, 4])
    np.testing.assert_array_equal(data.time_index, [1, 0, 1])


def test_fit_with_non_finite_rates_exits_1(data_file, capsys, monkeypatch):
    def diverging(key, data, method, **kwargs):
        nan = dict.fromkeys(fit.TRUE_RATES, float("nan"))
        return fit.FitResult(nan, np.zeros((5, 4)), np.zeros(4), 0.0)

    monkeypatch.setattr(fit, "fit_rates", diverging)
    assert cli.main(["fit", "--data", str(data_file), "--method", "moments", "--quiet"]) == 1
    assert "the moments fit diverged" in capsys.readouterr().err


# ------------------------------------------------------------------ 4. Ctrl-C is clean
def _interrupt_demo(monkeypatch):
    monkeypatch.setattr(jx, "simulate", interrupt)


INTERRUPTED_RUNS = [
    (["simulate", "birth_death", "--out", "{tmp}/x.csv", "--plot", "{tmp}/x.png"],
     cli, "simulate_ensemble", "nothing written"),
    (["fit", "--data", "{data}", "--plot", "{tmp}/f.png"], fit, "fit_rates", "nothing written"),
    (["fit", "--data", "{data}", "--save-data", "{tmp}/d.csv"], fit, "fit_rates",
     "kept {tmp}/d.csv (complete)"),
    (["learn", "--model", "birth_death"], learn, "fit_surrogate", "nothing written"),
    (["demo", "--out-dir", "{tmp}/demo"], jx, "simulate", "nothing written"),
]


@pytest.mark.parametrize(("argv", "module", "step", "message"), INTERRUPTED_RUNS)
def test_ctrl_c_exits_130_with_one_line_and_no_partial_files(
    tmp_path, data_file, capsys, monkeypatch, argv, module, step, message
):
    monkeypatch.setattr(module, step, interrupt)

    def fill(text):
        return text.replace("{tmp}", str(tmp_path)).replace("{data}", str(data_file))

    assert cli.main([fill(a) for a in argv] + ["--quiet"] * (argv[0] != "demo")) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == f"jumpax: interrupted; {fill(message)}"
    kept = {"cells.csv"} | ({"d.csv"} if "kept" in message else set())
    assert set(os.listdir(tmp_path)) == kept


def test_simulate_shows_progress_on_stderr(capsys):
    assert cli.main(["simulate", "birth_death", "--t1", "1", "--n", "2", "--save-at", "3"]) == 0
    captured = capsys.readouterr()
    assert "traj/s" in captured.err and "traj/s" not in captured.out
