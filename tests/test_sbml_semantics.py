"""SBML semantics across the solver matrix, on cases of the SBML Test Suite.

- Where a model has a stochastic meaning (loaded with ``molecules_per_amount``), the exact
  simulation agrees with the reference time course (the deterministic ODE) in the
  large-volume limit.
- What only the reaction-rate ODE follows (rate rules, delayed or prioritised events, net-rate
  reactions, variables) is refused by every jump solver and the Langevin model, by name.
- ``tests/test_sbml_suite.py`` runs the suite's comparison itself.
"""

import csv

import jax
import numpy as np
import pytest
from sbml_suite import CASES

import jumpax as jx
from jumpax.sbml import find_settings, load_sbml

N_TRAJECTORIES = 400
Z = 5.0
BIAS = 0.01
"""Allowed deviation of the ensemble mean from the ODE: ``Z`` standard errors plus ``BIAS``
times the largest amount (the O(1/molecules) bias of nonlinear laws at ~2,000 molecules)."""

MOLECULES = 2000.0
"""About how many molecules the largest initial amount becomes."""

LARGE_VOLUME_CASES = ["00001", "00017", "00043", "00055", "00101", "00129", "00147"]
"""Suite cases with mass-action reactions only (first and second order, reversible pairs),
amounts from 1e-4 to 1 in their own units."""


def _case(case: str):
    model = next((CASES / case).glob(f"{case}-sbml-*.xml"))
    with open(CASES / case / f"{case}-results.csv", newline="") as file:
        rows = list(csv.reader(file))
    return model, find_settings(model), rows[0][1:], np.array(rows[1:], dtype=float)


@pytest.mark.parametrize("case", LARGE_VOLUME_CASES)
def test_exact_simulation_meets_the_ode_in_the_large_volume_limit(case):
    model, settings, names, reference = _case(case)
    largest = float(np.max(np.asarray(load_sbml(model).x0)))
    per_amount = MOLECULES / largest
    network = load_sbml(model, molecules_per_amount=per_amount)
    results = jx.simulate(
        jax.random.key(int(case)), network, network.x0, settings.t1,
        save_at=settings.save_at, num_trajectories=N_TRAJECTORIES,
    )
    assert not np.any(results.overflow)
    for column, name in enumerate(names):
        assert name in settings.amount, f"{case}: {name} is not compared as an amount"
        counts = np.asarray(network.observe(name, results.x), dtype=float) / per_amount
        mean = counts.mean(axis=0)
        error = counts.std(axis=0, ddof=1) / np.sqrt(N_TRAJECTORIES)
        allowed = Z * error + BIAS * largest
        worst = np.max(np.abs(mean - reference[:, 1 + column]) - allowed)
        assert worst <= 0, f"{case}, {name}: the mean is {worst:.3g} beyond the tolerance"


ODE_ONLY = {
    "00071": "cannot simulate delayed, prioritised or non-persistent state events",
    "00997": r"cannot simulate variables \['p1', 'p2', 'p3'\]",  # events set parameters
    "00925": "cannot simulate rate rules",
}
"""Suite cases the reaction-rate ODE passes but no jump process can follow."""


@pytest.mark.parametrize("solver", ["Direct", "FirstReaction", "TauLeaping", "Langevin"])
@pytest.mark.parametrize("case", sorted(ODE_ONLY))
def test_what_only_the_ode_follows_is_refused_by_every_other_solver(case, solver):
    network = load_sbml(next((CASES / case).glob(f"{case}-sbml-*.xml")))
    x0 = np.round(np.asarray(network.x0))
    key = jax.random.key(0)
    name = "LangevinModel" if solver == "Langevin" else solver
    with pytest.raises(ValueError, match=f"{name} {ODE_ONLY[case]}"):
        if solver == "Langevin":
            jx.LangevinModel(network)(key, x0, 1.0, save_at="final")
        else:
            solver = getattr(jx, solver)()
            jx.simulate(key, network, x0, 1.0, solver=solver, save_at="final")


def test_reversible_laws_split_into_forward_and_reverse_reactions():
    # 00811: S1 <-> S2 + S3 with the law C * (kf * S1 + -1 * kr * S2 * S3) (concentrations)
    network = load_sbml(next((CASES / "00811").glob("*.xml")), molecules_per_amount=1e4)
    assert [r.string for r in network.reactions] == ["S1 -> S2 + S3", "S2 + S3 -> S1"]
    assert [r.label for r in network.reactions] == ["reaction1 (forward)", "reaction1 (reverse)"]
    assert not any(r.reversible for r in network.reactions)
    # a law that is no difference of two terms stays one net-rate reaction
    law = jx.ExpressionKinetics("k * (A - B) ^ 3", k=0.1)
    written = jx.ReactionNetwork([jx.Reaction("A -> B", law, "mix", reversible=True)],
                                 x0={"A": 10, "B": 0})
    network = load_sbml(jx.to_sbml(written))
    assert [r.reversible for r in network.reactions] == [True]
    with pytest.raises(ValueError, match=r"reversible reactions \['mix'\] whose rate"):
        jx.simulate(jax.random.key(0), network, network.x0, 1.0)


def test_molecules_per_amount_must_be_a_positive_number():
    model = next((CASES / "00001").glob("*.xml"))
    for bad in (0.0, -1.0, float("inf"), "many"):
        with pytest.raises(ValueError, match="molecules_per_amount must be a positive finite"):
            load_sbml(model, molecules_per_amount=bad)
    # amounts of 1.5e-4 are no molecule counts: the jump solvers ask for whole counts
    network = load_sbml(model)
    with pytest.raises(ValueError, match="x0 counts must be whole numbers"):
        jx.simulate(jax.random.key(0), network, network.x0, 1.0)
    np.testing.assert_allclose(load_sbml(model, molecules_per_amount=1e6).x0, [150.0, 0.0])


def test_a_held_concentration_in_a_changing_compartment_is_refused_by_name():
    # Suite case 01507: a delayed event holds 0.2 (a concentration) from its trigger; the
    # amount it means depends on the compartment's size at execution, which changes.
    model = next((CASES / "01507").glob("*.xml"))
    with pytest.raises(ValueError, match=r"event 'E0'.*concentration of 'S1'.*'C1' changes"):
        load_sbml(model)
