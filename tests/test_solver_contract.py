"""The solver contract: every solver, one feature matrix, one statistical standard.

Rows (solvers): the exact ``Direct`` and ``FirstReaction``, the pathwise ``GumbelSoftmaxDirect``
(exact forward pass), the approximate ``TauLeaping`` (all through :func:`jumpax.simulate`), and
the continuous models: the reaction-rate ODE (``MeanFieldModel``) and the chemical Langevin
equation (``LangevinModel``).

Columns (features): plain mass action, a second-order reaction, volume != 1, boundary species
(a catalyst no reaction changes and a regulator read by a Hill rate law), a time event, a state
event and an assignment rule.

Every cell runs one ensemble with a fixed seed and checks, against an exact reference (an
analytic formula, or the exact CME solved by a matrix exponential for the dimerisation):

- the ensemble mean (and variance, where the reference has one) at every save time, within
  ``Z`` standard errors, plus a stated approximation allowance for ``TauLeaping`` and the
  Langevin equation; the ODE is compared with its own deterministic meaning (to ``ODE_RTOL``)
  and, for the nonlinear network, with the CME mean within ``ODE_VS_CME_RTOL``;
- exact invariants on every trajectory at every save time (post-event values, constant
  boundary species, ``Y == 2 X``, conservation of ``P + 2 P2``, a reset state below its
  threshold);
- no negative counts, no unreached entries, no overflow, and the solver's count dtype;
- no recompilation when a rate constant changes (the same network rebuilt with another rate).

Each cell prints one summary line (``pytest -rA`` shows it): measured values vs references.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
import scipy.stats

import jumpax as jx

from compile_counter import count_compiles

# The whole matrix takes about 3.5 minutes on 2 cores: CI runs it with the slow suites.
pytestmark = pytest.mark.slow

Z = 4.0
"""Statistical tolerance: |measured - reference| < Z standard errors (fixed seeds)."""

N_TRAJECTORIES = 4000
"""Ensemble size of every stochastic cell."""

ODE_RTOL = 1e-3
"""The ODE against its own closed-form solution (Tsit5 at rtol = atol = 1e-6)."""

ODE_VS_CME_RTOL = 1e-3
"""The ODE against the exact CME mean of the dimerisation: the two differ by the O(1/Omega)
finite-size correction, which the matrix-exponential CME puts at 0.02-0.03% for these counts
(P between 600 and 1000): 0.1% states where CME and ODE agree."""

TAU_MEAN_RTOL = 0.005
TAU_VAR_RTOL = 0.02
"""TauLeaping's approximation allowance, added to the statistical tolerance. Its bias is first
order in the leap size; with the defaults (epsilon = 0.03, relaxation = 0.005) the solver's
documentation puts the DSMTS large-count moments within about 0.5%. The variance gets 2%: one
leap inflates a stationary variance by about 1 / (1 - |J_ii| tau / 2) (module docstring), and
the sample variance is the noisier statistic."""

CLE_MEAN_RTOL = 0.005
CLE_VAR_RTOL = 0.03
"""The Langevin equation's allowance, added to the statistical tolerance. For the linear
networks the CLE has the exact mean and variance; Euler-Maruyama with 1000 steps over t1 <= 10
(dt <= 0.01, relaxation rates <= 0.3) shifts them by O(rate * dt) < 0.3%. For the dimerisation
(counts 600-1000) the CLE differs from the CME by its O(1/Omega) corrections, 0.1% in the
mean and a few % in the variance, plus the same discretisation error."""

CLE_STATE_EVENT_ABS = 10.0 * 6.0 / 1000
"""The CLE with a state event, beyond ``CLE_MEAN_RTOL``: its trigger is checked at the end of
each Euler step (documented), so the reset X := 0 comes up to one step (6 / 1000) late and
discards the births of that step: at most 10 * 0.006 = 0.06 molecules on the mean. (The
continuous first passage of 10 t + sqrt(10) W to 50 and the 50th event of the Poisson process
have the same mean and variance, 5 and 0.5, so the reset times agree otherwise.)"""

CLE_NEGATIVE_ALLOWANCE = 2.5 * 10.0**0.5 * 0.6**0.5
"""Counts the Langevin equation may show below 0 at save times. The CLE is a continuous
approximation with Gaussian noise: its documentation says counts "may dip below 0 near 0", and
clipping would bias its moments. After the reset X := 0 of pure birth (rate 10) the state is
10 s + sqrt(10) W(s) until the next crossing, so dips of a few noise amplitudes occur within
the first step-sized windows: allowed up to 2.5 sqrt(10 * 0.6) (measured minimum -2.03 over
4,000 trajectories). The save times of the features without resets lie where the exact process
is over 6 standard deviations above 0, so any dip fails there."""

MASS_ACTION_RATES = (10.0, 0.1)
"""Immigration-death ``0 -> X`` (10), ``X -> 0`` (0.1): mean 100 (1 - exp(-0.1 t)) from 0."""

DIMER_RATES = (0.0002, 0.1)
"""Dimerisation ``2 P -> P2`` (k1), ``P2 -> 2 P`` (k2) from P = 1000: P from ~1000 to ~600."""

DIMER_TOTAL = 1000


# ------------------------------------------------------------------ expressions (static)
class Constant(eqx.Module):
    """An expression with a constant value (a module: equal instances do not recompile)."""

    value: float = eqx.field(static=True)

    def __call__(self, x):
        return jnp.asarray(self.value, x.dtype)


def double_x(x):
    return 2 * x[0]


def x_at_least_50(x):
    return x[0] >= 50


# ------------------------------------------------------------------ references
def immigration_death_mean(t, birth=MASS_ACTION_RATES[0], death=MASS_ACTION_RATES[1], x0=0.0):
    """Mean of immigration-death from ``x0``: Poisson(birth/death (1 - e^-death t)) + Bin(x0)."""
    t = np.asarray(t, dtype=np.float64)
    survive = np.exp(-death * t)
    return birth / death * (1 - survive) + x0 * survive


def immigration_death_var(t, birth=MASS_ACTION_RATES[0], death=MASS_ACTION_RATES[1], x0=0.0):
    """Variance of the same: Poisson part plus the binomial survival of the ``x0`` molecules."""
    t = np.asarray(t, dtype=np.float64)
    survive = np.exp(-death * t)
    return birth / death * (1 - survive) + x0 * survive * (1 - survive)


@functools.cache
def dimer_cme(volume: float, times: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Exact mean and variance of P for the dimerisation, from the CME's matrix exponential.

    The state is j = P2 (P = total - 2 j): a birth-death chain on 0..total/2 with
    ``j -> j + 1`` at ``k1 / V * P (P - 1) / 2`` and ``j -> j - 1`` at ``k2 j``.
    """
    k1, k2 = DIMER_RATES
    j = np.arange(DIMER_TOTAL // 2 + 1)
    p = DIMER_TOTAL - 2 * j
    generator = np.zeros((j.size, j.size))
    generator[j[:-1], j[:-1] + 1] = k1 / volume * p[:-1] * (p[:-1] - 1) / 2
    generator[j[1:], j[1:] - 1] = k2 * j[1:]
    generator -= np.diag(generator.sum(axis=1))
    start = np.zeros(j.size)
    start[0] = 1.0
    means, variances = [], []
    for t in times:
        probabilities = start @ scipy.linalg.expm(generator * t)
        mean = probabilities @ p
        means.append(mean)
        variances.append(probabilities @ p**2 - mean**2)
    return np.array(means), np.array(variances)


def dimer_ode(volume: float, times) -> np.ndarray:
    """The reaction-rate equation's P(t), in closed form (a Riccati equation).

    ``dP/dt = -k P^2 + k2 (total - P)`` with ``k = k1 / V`` (the ODE rate of ``2 P -> P2`` is
    ``k1 / V * P^2 / 2`` per firing, two P each) is ``-k (P - a)(P - b)`` with roots
    ``a > 0 > b``, so ``(P - a) / (P - b) = C exp(-k (a - b) t)``.
    """
    k1, k2 = DIMER_RATES
    k = k1 / volume
    root = np.sqrt(k2**2 + 4 * k * k2 * DIMER_TOTAL)
    a, b = (-k2 + root) / (2 * k), (-k2 - root) / (2 * k)
    c = (DIMER_TOTAL - a) / (DIMER_TOTAL - b) * np.exp(-k * (a - b) * np.asarray(times))
    return (a - b * c) / (1 - c)


def reset_birth_moments(times, birth=10.0, threshold=50) -> tuple[np.ndarray, np.ndarray]:
    """Pure birth at rate ``birth`` reset to 0 on reaching ``threshold``: X(t) = N(t) mod 50."""
    means, variances = [], []
    for t in times:
        n = np.arange(0, 2000)
        probabilities = scipy.stats.poisson.pmf(n, birth * t)
        x = n % threshold
        mean = probabilities @ x
        means.append(mean)
        variances.append(probabilities @ x**2 - mean**2)
    return np.array(means), np.array(variances)


# ------------------------------------------------------------------ the feature matrix
@dataclasses.dataclass(frozen=True)
class Feature:
    """One column of the matrix.

    Attributes:
        build: the network for a value of its changeable rate (the no-recompile check).
        rate: the rate used for the statistics; ``other_rate`` the changed one.
        x0, t1, ts: the simulation.
        species: the species whose moments are checked.
        mean, var: the exact process's mean and variance at ``ts`` (``var`` may be None).
        ode: the ODE's own value at ``ts``.
        invariants: ``name -> (f(x) -> bool array, how many entries may fail)``.
        gumbel_max_steps: GumbelSoftmaxDirect's step budget (bounded loop).
        cle_mean_abs: an extra absolute allowance on the CLE mean (state events).
    """

    build: Callable[[float], jx.ReactionNetwork]
    rate: float
    other_rate: float
    x0: dict
    t1: float
    ts: tuple[float, ...]
    species: int
    mean: np.ndarray
    var: np.ndarray | None
    ode: np.ndarray
    invariants: dict = dataclasses.field(default_factory=dict)
    gumbel_max_steps: int = 400
    cle_mean_abs: float = 0.0


def immigration_death(death, **kwargs):
    return jx.ReactionNetwork([("0 -> X", MASS_ACTION_RATES[0]), ("X -> 0", death)], **kwargs)


def dimerisation(k2, volume=1.0):
    return jx.ReactionNetwork([("2 P -> P2", DIMER_RATES[0]), ("P2 -> 2 P", k2)], volume=volume)


def boundary(death):
    # S is a catalyst (S -> S + X: changed by no reaction), R is listed in species= and only read
    # by a Hill rate law. Birth rate 0.5 * S + 10 R^2 / (10^2 + R^2) = 5 + 5 = 10 at S = R = 10.
    return jx.ReactionNetwork(
        [
            ("S -> S + X", 0.5),
            ("0 -> X", jx.HillActivation("R", vmax=10.0, K=10.0, n=2.0)),
            ("X -> 0", death),
        ],
        species=["S", "R", "X"],
    )


def time_event(death):
    return immigration_death(death, events=[jx.TimeEvent(5.0, [("X", Constant(1000.0))])])


def state_event(birth):
    return jx.ReactionNetwork(
        [("0 -> X", birth)], events=[jx.StateEvent(x_at_least_50, [("X", Constant(0.0))])]
    )


def assignment_rule(death):
    return immigration_death(death, species=["X", "Y"], rules=[jx.AssignmentRule("Y", double_x)])


def conserved_dimers(x):
    # Exact for integer counts; the float solvers (ODE, CLE) conserve it up to float32 round-off.
    return np.abs(x[..., 0] + 2 * x[..., 1] - DIMER_TOTAL) <= 1e-5 * DIMER_TOTAL


def _dimer_feature(volume):
    ts = (1.0, 4.0)
    mean, var = dimer_cme(volume, ts)
    return Feature(
        build=functools.partial(dimerisation, volume=volume),
        rate=DIMER_RATES[1],
        other_rate=0.13,
        x0={"P": DIMER_TOTAL},
        t1=4.0,
        ts=ts,
        species=0,
        mean=mean,
        var=var,
        ode=dimer_ode(volume, ts),
        invariants={"P + 2 P2 == 1000": (conserved_dimers, 0)},
        gumbel_max_steps=600,
    )


def _features() -> dict[str, Feature]:
    id_ts = (5.0, 10.0)
    id_mean, id_var = immigration_death_mean(id_ts), immigration_death_var(id_ts)
    event_ts = (4.0, 5.0, 6.0)
    event_mean = np.array([*immigration_death_mean([4.0, 5.0]), 0.0])
    event_var = np.array([*immigration_death_var([4.0, 5.0]), 0.0])
    event_mean[1], event_var[1] = 1000.0, 0.0  # the post-event state is saved at t = 5
    event_mean[2] = immigration_death_mean(1.0, x0=1000.0)
    event_var[2] = immigration_death_var(1.0, x0=1000.0)
    reset_ts = (3.0, 6.0)
    reset_mean, reset_var = reset_birth_moments(reset_ts)
    return {
        "mass_action": Feature(
            build=immigration_death,
            rate=0.1,
            other_rate=0.12,
            x0={"X": 0},
            t1=10.0,
            ts=id_ts,
            species=0,
            mean=id_mean,
            var=id_var,
            ode=id_mean,
        ),
        "second_order": _dimer_feature(1.0),
        "volume": _dimer_feature(2.0),
        "boundary_species": Feature(
            build=boundary,
            rate=0.1,
            other_rate=0.12,
            x0={"S": 10, "R": 10, "X": 0},
            t1=10.0,
            ts=id_ts,
            species=2,
            mean=id_mean,
            var=id_var,
            ode=id_mean,
            invariants={
                "S == 10": (lambda x: x[..., 0] == 10, 0),
                "R == 10": (lambda x: x[..., 1] == 10, 0),
            },
        ),
        "time_event": Feature(
            build=time_event,
            rate=0.1,
            other_rate=0.12,
            x0={"X": 0},
            t1=6.0,
            ts=event_ts,
            species=0,
            mean=event_mean,
            var=event_var,
            ode=event_mean,
            # A reaction whose float32 time rounds to 5.0 (reported t = 5.0) is saved at t = 5
            # by design (Clock.not_after orders times by the reported float): with a0 = 110
            # just after the event that is a waiting time below ulp(5) / 2 = 2.4e-7, probability
            # 2.6e-5 per trajectory (0.1 of 4000 expected): such a trajectory holds 999 or 1001.
            invariants={
                "X(5) == 1000": (lambda x: x[..., 1, 0] == 1000, 3),
                "|X(5) - 1000| <= 1": (lambda x: np.abs(x[..., 1, 0] - 1000) <= 1, 0),
            },
            gumbel_max_steps=400,
        ),
        "state_event": Feature(
            build=state_event,
            rate=10.0,
            other_rate=11.0,
            x0={"X": 0},
            t1=6.0,
            ts=reset_ts,
            species=0,
            mean=reset_mean,
            var=reset_var,
            # The ODE: x = 10 t reaches 50 at t = 5 and restarts from 0: x(3) = 30, x(6) = 10.
            ode=np.array([30.0, 10.0]),
            invariants={"X < 50": (lambda x: x[..., 0] < 50, 0)},
            gumbel_max_steps=150,
            cle_mean_abs=CLE_STATE_EVENT_ABS,
        ),
        "assignment_rule": Feature(
            build=assignment_rule,
            rate=0.1,
            other_rate=0.12,
            x0={"X": 0},
            t1=10.0,
            ts=id_ts,
            species=0,
            mean=id_mean,
            var=id_var,
            ode=id_mean,
            invariants={"Y == 2 X": (lambda x: x[..., 1] == 2 * x[..., 0], 0)},
        ),
    }


FEATURES = _features()

SOLVERS = {
    "Direct": jx.Direct(),
    "FirstReaction": jx.FirstReaction(),
    "GumbelSoftmaxDirect": jx.GumbelSoftmaxDirect(),
    "TauLeaping": jx.TauLeaping(),
    "ODE": None,
    "CLE": None,
}

INTEGER_SOLVERS = ("Direct", "FirstReaction", "TauLeaping")


def run(solver: str, feature: Feature, network: jx.ReactionNetwork, key) -> jx.SimulationResults:
    ts = jnp.asarray(feature.ts)
    if solver == "ODE":
        results = jx.MeanFieldModel(network)(feature.x0, feature.t1, save_at=ts)
    elif solver == "CLE":
        results = jx.LangevinModel(network)(
            key, feature.x0, feature.t1, save_at=ts, num_trajectories=N_TRAJECTORIES
        )
    else:
        max_steps = feature.gumbel_max_steps if solver == "GumbelSoftmaxDirect" else None
        results = jx.simulate(
            key,
            network,
            feature.x0,
            feature.t1,
            solver=SOLVERS[solver],
            save_at=ts,
            num_trajectories=N_TRAJECTORIES,
            max_steps=max_steps,
        )
    return jax.block_until_ready(results)


def _allowances(solver: str, feature: Feature, reference_mean, reference_var):
    """Approximation allowances (absolute) added to Z standard errors, per save time."""
    mean_allow = np.zeros_like(reference_mean)
    var_allow = np.zeros_like(reference_mean)
    if solver == "TauLeaping":
        mean_allow = TAU_MEAN_RTOL * np.abs(reference_mean)
        var_allow = TAU_VAR_RTOL * np.abs(reference_var if reference_var is not None else 0.0)
    elif solver == "CLE":
        mean_allow = CLE_MEAN_RTOL * np.abs(reference_mean) + feature.cle_mean_abs
        var_allow = CLE_VAR_RTOL * np.abs(reference_var if reference_var is not None else 0.0)
    return mean_allow, var_allow


def check_cell(solver: str, name: str, feature: Feature, results) -> tuple[list[str], str]:
    """The failures of one cell, and its summary (measured vs reference)."""
    problems = []
    x = np.asarray(results.x)
    n_ts = len(feature.ts)
    expected_shape = (n_ts, len(results.species))
    if solver != "ODE":
        expected_shape = (N_TRAJECTORIES, *expected_shape)
    if x.shape != expected_shape:
        return [f"x has shape {x.shape}, expected {expected_shape}"], "wrong shape"
    integer = solver in INTEGER_SOLVERS
    if np.issubdtype(x.dtype, np.integer) != integer:
        problems.append(f"counts have dtype {x.dtype}, expected {'int' if integer else 'float'}")
    if np.any(np.asarray(results.overflow)):
        problems.append(f"{int(np.sum(results.overflow))} trajectories overflowed")
    if not np.all(np.asarray(results.reached)):
        problems.append(f"{int(np.sum(~np.asarray(results.reached)))} unreached entries")
        return problems, "unreached entries"
    allowance = CLE_NEGATIVE_ALLOWANCE if (solver, name) == ("CLE", "state_event") else 0.0
    if x.min() < -allowance:
        where = np.argwhere(x < -allowance)
        problems.append(
            f"negative counts: {len(where)} entries below 0 (allowance {allowance}), min "
            f"{x.min()}, e.g. (trajectory, save time, species) {where[:3].tolist()}"
        )
    for what, (holds, exceptions) in feature.invariants.items():
        ok = np.asarray(holds(x))
        if (~ok).sum() > exceptions:
            bad = np.argwhere(~ok)[:3].tolist()
            problems.append(
                f"invariant {what} fails in {int((~ok).sum())} entries (at most {exceptions} "
                f"allowed), e.g. (trajectory, save time) {bad}"
            )

    values = x[..., feature.species].astype(np.float64)
    if solver == "ODE":
        ode_ref = feature.ode
        rel = np.abs(values - ode_ref) / np.maximum(np.abs(ode_ref), 1.0)
        summary = f"x={np.round(values, 3).tolist()} vs ODE {np.round(ode_ref, 3).tolist()}"
        if np.any(rel > ODE_RTOL):
            problems.append(f"ODE {values} vs its closed form {ode_ref} (rel {rel.max():.2e})")
        if name in ("second_order", "volume"):
            cme_rel = np.abs(values - feature.mean) / feature.mean
            summary += f"; CME {np.round(feature.mean, 3).tolist()}"
            if np.any(cme_rel > ODE_VS_CME_RTOL):
                problems.append(
                    f"ODE {values} vs exact CME mean {feature.mean} (rel {cme_rel.max():.2e} > "
                    f"{ODE_VS_CME_RTOL})"
                )
        return problems, summary

    n = values.shape[0]
    mean = values.mean(axis=0)
    var = values.var(axis=0, ddof=1)
    se_mean = np.sqrt(var / n)
    se_var = np.sqrt(np.var((values - mean) ** 2, axis=0) / n)
    mean_allow, var_allow = _allowances(solver, feature, feature.mean, feature.var)
    # A save time where every trajectory must hold the same value has no sampling error.
    mean_tol = Z * se_mean + mean_allow + 1e-9
    mean_z = np.abs(mean - feature.mean) / np.maximum(se_mean, 1e-12)
    summary = (
        f"mean {np.round(mean, 2).tolist()} vs {np.round(feature.mean, 2).tolist()} "
        f"(|z| {np.round(mean_z, 1).tolist()})"
    )
    if np.any(np.abs(mean - feature.mean) > mean_tol):
        problems.append(
            f"mean {mean} vs exact {feature.mean}: off by {np.abs(mean - feature.mean)} > "
            f"tolerance {mean_tol} (Z={Z} standard errors {se_mean} + allowance {mean_allow})"
        )
    if feature.var is not None:
        var_tol = Z * se_var + var_allow + 1e-9
        var_z = np.abs(var - feature.var) / np.maximum(se_var, 1e-12)
        summary += (
            f"; var {np.round(var, 1).tolist()} vs {np.round(feature.var, 1).tolist()} "
            f"(|z| {np.round(var_z, 1).tolist()})"
        )
        if np.any(np.abs(var - feature.var) > var_tol):
            problems.append(
                f"variance {var} vs exact {feature.var}: off by {np.abs(var - feature.var)} > "
                f"tolerance {var_tol} (Z={Z} standard errors {se_var} + allowance {var_allow})"
            )
    return problems, summary


REFUSED = {("TauLeaping", "state_event"): "TauLeaping cannot locate state events"}
"""Cells a solver refuses by name instead of answering (a leap cannot tell when within it a
trigger became true: checking at leap ends gave mean X(6) = 3.9 against the exact 14.2)."""

CELLS = [(solver, name) for solver in SOLVERS for name in FEATURES]


@pytest.mark.parametrize(("solver", "name"), CELLS, ids=[f"{s}-{f}" for s, f in CELLS])
def test_solver_contract(solver, name):
    feature = FEATURES[name]
    key = jax.random.key(1000 * list(SOLVERS).index(solver) + list(FEATURES).index(name))
    network = feature.build(feature.rate)
    if (solver, name) in REFUSED:
        with pytest.raises(ValueError, match=REFUSED[solver, name]):
            run(solver, feature, network, key)
        return
    results = run(solver, feature, network, key)
    problems, summary = check_cell(solver, name, feature, results)

    # Another rate constant: same structure, so the compiled program is reused.
    changed = feature.build(feature.other_rate)
    compiles = count_compiles(lambda: run(solver, feature, changed, key))
    if compiles:
        problems.append(
            f"changing a rate ({feature.rate} -> {feature.other_rate}) compiled {compiles} times"
        )

    if name == "volume":
        # Volume 2 halves the second-order propensity: the same as k1 / 2 at volume 1, bit for
        # bit (a power-of-two scale), so the same key gives the same paths.
        k1, k2 = DIMER_RATES
        halved = jx.ReactionNetwork([("2 P -> P2", k1 / 2), ("P2 -> 2 P", k2)])
        same = run(solver, feature, halved, key)
        if not np.array_equal(np.asarray(same.x), np.asarray(results.x)):
            diff = np.max(np.abs(np.asarray(same.x, float) - np.asarray(results.x, float)))
            problems.append(f"volume=2 differs from k1/2 at volume=1 (max |diff| {diff})")

    status = "FAIL" if problems else "pass"
    print(f"CELL {solver}-{name}: {status} | {summary}")
    assert not problems, f"{solver} on {name}:\n  " + "\n  ".join(problems)


@pytest.mark.parametrize(
    ("solver", "match"),
    [
        ("TauLeaping", "TauLeaping records no event list"),
        ("ODE", "MeanFieldModel records no"),
        ("CLE", "LangevinModel records no"),
    ],
)
def test_no_event_list_is_refused_by_name(solver, match):
    network = immigration_death(0.1)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match=match):
        if solver == "ODE":
            jx.MeanFieldModel(network)({"X": 0}, 1.0, save_at=None)
        elif solver == "CLE":
            jx.LangevinModel(network)(key, {"X": 0}, 1.0, save_at=None)
        else:
            jx.simulate(key, network, {"X": 0}, 1.0, solver=SOLVERS[solver], save_at=None)
