import argparse

import numpy as np
import pytest
from scipy import stats

from jumpax.apps import learn


def test_wasserstein_1_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.poisson(10, size=500), rng.normal(11, 3, size=300)
    np.testing.assert_allclose(
        learn.wasserstein_1(a, b), stats.wasserstein_distance(a, b), rtol=1e-10
    )


def test_total_variation():
    a = np.array([0, 1, 1, 2])
    assert learn.total_variation(a, a) == 0.0
    assert learn.total_variation(a, a + 10) == 1.0
    np.testing.assert_allclose(learn.total_variation(a, np.array([1, 1, 1, 1])), 0.5)


@pytest.mark.slow
def test_cli_entry_point_runs_end_to_end(capsys):
    parser = argparse.ArgumentParser()
    learn.add_arguments(parser)
    args = parser.parse_args(
        [
            "--model",
            "birth_death",
            "--t1",
            "20",
            "--dt",
            "5",
            "--train-trajectories",
            "100",
            "--steps",
            "20",
            "--eval-trajectories",
            "100",
        ]
    )
    assert learn.main(args) == 0
    out, err = capsys.readouterr()
    assert "speedup" in out
    assert "training" in err and "20/20" in err  # progress goes to stderr
    # default horizons on the dt grid: 5, 10, 20; one row per species (X) at each
    rows = [line.split()[:2] for line in out.splitlines()[-3:]]
    assert rows == [["5", "X"], ["10", "X"], ["20", "X"]]
