"""Rate laws: each class's law as math agrees with its propensity; falling factorials."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jumpax as jx
from jumpax import Expression
from jumpax._network._kinetics import mass_action_rates

SPECIES = ("A", "B", "R")
LAWS = [
    ("0 -> A", jx.MassAction(3.0)),
    ("A -> B", jx.MassAction(0.7)),
    ("2 A -> B", jx.MassAction(0.01)),
    ("A + B -> R", jx.MassAction(0.2)),
    ("3 A + 2 B -> R", jx.MassAction(1e-4)),
    ("0 -> A", jx.Constant(2.5)),
    ("0 -> A", jx.HillActivation("R", 5.0, 3.0, 2.5)),
    ("0 -> A", jx.HillRepression("R", 5.0, 3.0, 2.5)),
    ("A -> 0", jx.MichaelisMenten(4.0, 2.0)),
    ("0 -> B", jx.MichaelisMenten(4.0, 2.0, substrate="A")),
    ("2 A -> B", jx.ExpressionKinetics("k * A * (A - 1) / 2 + c * R^2", k=0.1, c=0.5)),
]
STATES = [[3.0, 2.0, 0.0], [5.0, 4.0, 1.0], [10.0, 7.0, 3.0], [40.0, 25.0, 1000.0]]


@pytest.mark.parametrize(("string", "kinetics"), LAWS, ids=lambda v: getattr(v, "__name__", v))
@pytest.mark.parametrize("volume", [1.0, 2.5])
def test_rate_law_is_the_propensity(string, kinetics, volume):
    reaction = jx.Reaction(string, kinetics)
    net = jx.ReactionNetwork([reaction], species=SPECIES, volume=volume)
    law = Expression(kinetics.rate_law(reaction.reactants, ("const", volume)), kinetics.parameters)
    for x in map(jnp.array, STATES):
        a = kinetics.propensity(x, net.reactant_indices[0], net.index, net.volume)
        np.testing.assert_allclose(law.evaluate(x, net.index), a, rtol=2e-6)
        np.testing.assert_allclose(net.propensities(x)[0], a, rtol=2e-6)


def test_rate_law_reads_the_volume_it_is_given():
    tree = jx.MassAction(0.5).rate_law((("A", 2),), ("param", "V"))
    assert tree == (
        "times",
        ("param", "k"),
        ("power", ("param", "V"), ("const", -1.0)),
        ("divide", ("times", ("species", "A"), ("minus", ("species", "A"), ("const", 1.0))),
         ("const", 2.0)),
    )
    assert jx.MassAction(0.5).rate_law((("A", 1),), ("param", "V")) == (
        "times", ("param", "k"), ("species", "A"))


def test_kinetics_without_math_say_so():
    class Custom(jx.AbstractKinetics):
        def propensity(self, x, reactants, index, volume):
            return x[0]

    with pytest.raises(NotImplementedError, match="Custom kinetics cannot be written as math"):
        Custom().rate_law((), ("const", 1.0))


def test_hill_laws_are_accurate_and_differentiable_at_the_extremes():
    index = {"R": 0}
    repression = jx.HillRepression("R", 5.0, 10.0, 4.0)
    # K^n / (K^n + R^n) = 1e-8 / (1 + 1e-8): no cancellation to 0 at a large regulator count
    np.testing.assert_allclose(
        repression.propensity(jnp.array([1000.0]), (), index, 1.0), 5e-8, rtol=1e-6
    )
    for cls in (jx.HillActivation, jx.HillRepression):
        grad = jax.grad(lambda k: k.propensity(jnp.array([0.0]), (), index, 1.0))(
            cls("R", 5.0, 10.0, 2.5)
        )
        assert all(np.isfinite(float(v)) for v in (grad.vmax, grad.K, grad.n))


# ----------------------------------------------------------------------- falling factorials
def rate(x, s, k=1.0, exact=True, dtype=jnp.float32):
    reactants = [tuple((i, c) for i, c in enumerate(np.atleast_1d(s)))]
    x = jnp.asarray(np.atleast_1d(x), dtype)
    return mass_action_rates(jnp.asarray([k], dtype), reactants, x, jnp.asarray(1.0, dtype),
                             exact=exact)[0]


def test_a_high_order_reaction_at_its_threshold_has_propensity_k():
    net = jx.ReactionNetwork([jx.Reaction("150 A -> B", jx.MassAction(0.25))])
    x = jnp.array([150.0, 0.0])
    assert x.dtype == jnp.float32
    assert float(net.propensities(x)[0]) == 0.25
    assert float(net.reactions[0].kinetics.propensity(x, ((0, 150),), net.index, 1.0)) == 0.25
    grad = jax.grad(lambda n: n.propensities(x)[0])(net)
    assert float(grad.reactions[0].kinetics.k) == 1.0


@pytest.mark.parametrize(
    ("x", "s"),
    [(150, 150), (160, 150), (200, 190), (1000, 990), (150, 149), (120, 100),
     ([120, 60], [100, 50])],
)
def test_binomials_are_finite_and_accurate_in_float32(x, s):
    pairs = zip(np.atleast_1d(x).tolist(), np.atleast_1d(s).tolist(), strict=True)
    expected = math.prod(math.comb(a, b) for a, b in pairs)
    value = float(rate(x, s))
    assert np.isfinite(value)
    assert value == pytest.approx(expected, rel=1e-5)
    grad = float(jax.grad(lambda k: rate(x, s, k))(1.0))
    assert np.isfinite(grad) and grad == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize(("x", "s"), [(100, 150), (40, 30), (150, 20), (60, 80)])
def test_the_ode_limit_is_finite_and_accurate_in_float32(x, s):
    # x^s / s!: 100^150 / 150! is about 1.8e37, but 100^100 / 100! (where the old product
    # peaked) overflows float32
    value = float(rate(x, s, exact=False))
    assert value == pytest.approx(x**s / math.factorial(s), rel=1e-5)


@pytest.mark.parametrize(("x", "s"), [(1100, 1000), (200, 100), (900, 450)])
def test_binomials_are_finite_and_accurate_in_float64(x, s):
    with jax.enable_x64(True):
        value = float(rate(x, s, dtype=jnp.float64))
    assert value == pytest.approx(math.comb(x, s), rel=1e-10)


@pytest.mark.parametrize(("x", "s"), [(0, 1), (1, 2), (149, 150), (0, 3), (2, 5), (0, 150)])
def test_below_availability_the_propensity_is_exactly_zero(x, s):
    value = rate(x, s)
    assert float(value) == 0.0 and not np.signbit(value)
    grad = float(jax.grad(lambda k: rate(x, s, k))(1.0))
    assert grad == 0.0


def test_selected_rates_equal_the_full_evaluation_bit_for_bit():
    reactants = [((0, 150),), ((0, 2), (1, 1)), ((1, 3),), (), ((0, 1),), ((0, 7), (1, 5))]
    ks = jnp.array([0.25, 0.01, 1e-3, 2.0, 0.3, 1e-6])
    for x in ([150.0, 7.0], [160.0, 2.0], [3.0, 4.0], [0.0, 0.0], [12.0, 9.0]):
        x = jnp.array(x)
        full = mass_action_rates(ks, reactants, x, jnp.asarray(2.0))
        for which in ([0], [5, 1], [2, 3, 4], [0, 1, 2, 3, 4, 5]):
            some = mass_action_rates(ks, reactants, x, jnp.asarray(2.0), which=jnp.array(which))
            np.testing.assert_array_equal(some, full[np.array(which)])


@pytest.mark.parametrize(
    "build",
    [
        lambda: jx.Reaction("X -> 0", jnp.array([1.0, 2.0, 3.0])),
        lambda: jx.Constant([10.0, 90.0]),
        lambda: jx.HillActivation("X", jnp.ones(2), 1.0),
        lambda: jx.HillRepression("X", 1.0, 2.0, jnp.ones((1,))),
        lambda: jx.MichaelisMenten(1.0, [2.0, 3.0]),
        lambda: jx.MassAction(jnp.zeros(2), transform=jnp.exp),
        lambda: jx.ReactionNetwork([jx.Reaction("X -> 0", 1.0)], volume=[1.0, 2.0]),
        lambda: jx.TimeEvent(jnp.array([1.0, 2.0]), [("X", lambda x: x[0])]),
    ],
)
def test_parameters_must_be_scalars(build):
    # a rate of shape (3,) used to act as three reactions: k = 6, reactions 1 and 2 recorded
    with pytest.raises(ValueError, match="must be a scalar, got an array of shape"):
        build()


def test_parameters_must_be_numbers():
    with pytest.raises(TypeError, match="must be a number"):
        jx.MassAction("fast")
    with pytest.raises(TypeError, match="must be a number"):
        jx.Constant(None)


def test_huge_coefficients_and_counts_are_refused_not_overflowed():
    # found by fuzzing: OverflowError from a 10**20 coefficient, a stall at "5000 A -> B"
    # (one loop step per unit of coefficient), and x0 = 1e39 stored as inf
    with pytest.raises(ValueError, match="above 2\\*\\*31 - 1"):
        jx.ReactionNetwork([("100000000000000000000 A -> B", 1.0)])
    with pytest.raises(ValueError, match="reactant coefficient of 171"):
        jx.ReactionNetwork([("171 A -> B", 1.0)])
    with pytest.raises(ValueError, match="finite in float32"):
        jx.ReactionNetwork([("A -> B", 1.0)], x0={"A": 1e39})
    net = jx.ReactionNetwork([("0 -> 1000000 A", 1.0), ("170 A -> B", 1.0)])
    assert net.stoichiometry[0, 0] == 1_000_000
