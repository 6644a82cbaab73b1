"""SimulationResults conveniences: lookups, statistics, export."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jumpax as jx

KEY = jax.random.key(11)


@pytest.fixture(scope="module")
def ensemble():
    net = jx.models.dimerisation()
    return jx.simulate(KEY, net, net.x0, 20.0, max_steps=400, num_trajectories=6)


def test_modes_and_shapes(ensemble):
    assert ensemble.mode == "events" and ensemble.is_ensemble and ensemble.num_trajectories == 6
    grid = ensemble.at(jnp.array([0.0, 5.0, 20.0]))
    assert grid.mode == "grid" and grid.x.shape == (6, 3, 2)
    single = ensemble[2]
    assert not single.is_ensemble and single.num_trajectories is None
    np.testing.assert_array_equal(single.x, ensemble.x[2])
    with pytest.raises(ValueError, match="ensemble"):
        single[0]


def test_at_returns_last_event_before_time(ensemble):
    r = ensemble[0]
    n = int(r.n_steps)
    t_mid = 0.5 * float(r.t[1] + r.t[2])
    state = r.at(jnp.array([t_mid])).x[0]
    np.testing.assert_array_equal(state, r.x[1])
    np.testing.assert_array_equal(r.at(jnp.array([20.0])).x[0], r.x[n])
    np.testing.assert_array_equal(r.final_state, r.x[n])
    with pytest.raises(ValueError, match="event-list"):
        r.at(jnp.array([1.0])).at(jnp.array([1.0]))


def test_mean_and_variance_need_common_times(ensemble):
    with pytest.raises(ValueError, match="at\\(ts\\)"):
        ensemble.mean()
    grid = ensemble.at(jnp.linspace(0, 20, 5))
    np.testing.assert_allclose(grid.mean(), np.asarray(grid.x).mean(0), rtol=1e-6)
    np.testing.assert_allclose(grid.var(), np.asarray(grid.x).var(0, ddof=1), rtol=1e-5)
    # conservation P + 2 P2 = 100 holds along every path
    np.testing.assert_array_equal(np.asarray(grid.x) @ np.array([1.0, 2.0]), 100.0)
    with pytest.raises(ValueError, match="num_trajectories"):
        grid[0].mean()


def test_species_counts(ensemble):
    np.testing.assert_array_equal(ensemble.species_counts("P2"), ensemble.x[..., 1])
    with pytest.raises(ValueError, match="unknown species"):
        ensemble.species_counts("Q")
    np.testing.assert_array_equal(ensemble.species_counts(-1), ensemble.x[..., 1])
    with pytest.raises(ValueError, match="out of range"):
        ensemble.species_counts(2)  # JAX indexing would silently clamp to the last species


def test_table_and_files(ensemble, tmp_path):
    table = ensemble.to_table()
    assert list(table) == ["trajectory", "time", "P", "P2"]
    expected_rows = int(np.sum(np.asarray(ensemble.n_steps) + 2))
    assert table["time"].shape == (expected_rows,)
    ensemble.save(tmp_path / "r.csv")
    lines = (tmp_path / "r.csv").read_text().splitlines()
    assert lines[0] == "trajectory,time,P,P2" and len(lines) == expected_rows + 1
    ensemble.save(tmp_path / "r.npz")
    with np.load(tmp_path / "r.npz") as data:
        np.testing.assert_array_equal(data["x"], ensemble.x)
        assert list(data["species"]) == ["P", "P2"]
    with pytest.raises(ValueError, match="unsupported output format"):
        ensemble.save(tmp_path / "r.json")
    final = jx.simulate(KEY, jx.models.birth_death(), {"X": 0}, 5.0, save_at="final")
    assert final.mode == "final"
    assert final.to_table()["X"].shape == (1,)


# ----------------------------------------------------------------------------- out of range


def test_trajectory_index_out_of_range_is_an_index_error(ensemble):
    # JAX indexing clamps: results[7] of 6 trajectories used to return trajectory 5
    for index in (6, 7, -7, np.array([0, 6])):
        with pytest.raises(IndexError, match="out of range for 6 trajectories"):
            ensemble[index]
    np.testing.assert_array_equal(ensemble[-1].x, ensemble.x[5])
    np.testing.assert_array_equal(ensemble[np.array([0, 5])].x, ensemble.x[np.array([0, 5])])


def test_at_marks_times_outside_the_simulation_unreached(ensemble):
    times = jnp.array([-1.0, 0.0, 10.0, 20.0, 21.0, jnp.nan])
    grid = ensemble.at(times)
    reached = np.asarray(grid.reached[..., 0])
    np.testing.assert_array_equal(reached, np.broadcast_to([0, 1, 1, 1, 0, 0], reached.shape))
    assert np.all(np.asarray(grid.x)[:, [0, 4, 5]] == jx.UNREACHED_COUNT)
    np.testing.assert_array_equal(grid.x[:, 1], ensemble.x[:, 0])
    assert np.all(np.isnan(np.asarray(grid.mean())[[0, 4, 5]]))


def test_at_on_a_truncated_trajectory_knows_only_what_was_simulated():
    net = jx.models.birth_death(birth=100.0, death=1.0)
    with pytest.warns(jx.OverflowWarning):
        res = jx.simulate(KEY, net, net.x0, 10.0, max_steps=20)
    last = float(res.t[20])  # the budget ran out here, long before t1 = 10
    assert bool(res.overflow) and last < 1.0
    grid = res.at(jnp.array([0.0, last, 0.5 * (last + 10.0), 10.0]))
    np.testing.assert_array_equal(grid.x[:2], res.x[jnp.array([0, 20])])
    np.testing.assert_array_equal(grid.x[2:, 0], jx.UNREACHED_COUNT)
