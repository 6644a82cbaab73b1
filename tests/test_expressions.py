"""Expression trees: evaluation, formulas, limits and ExpressionKinetics (no libsbml here)."""

import subprocess
import sys
import textwrap

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jumpax as jx
from jumpax import Expression, ExpressionKinetics, StateFunction
from jumpax import parse_expression as parse
from jumpax._network._expressions import MAX_DEPTH, MAX_NODES

X = jnp.array([3.0, 4.0])
INDEX = {"A": 0, "B": 1}


def value(formula, **parameters):
    return float(parse(formula, **parameters).evaluate(X, INDEX))


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("A + B + 1", 8.0),
        ("A - B", -1.0),
        ("-A", -3.0),
        ("A * B * 2", 24.0),
        ("B / A", 4.0 / 3.0),
        ("A ^ 2", 9.0),
        ("pow(B, 0.5)", 2.0),
        ("sqrt(B)", 2.0),
        ("root(3, 8)", 2.0),
        ("log(2, B)", 2.0),
        ("log10(100)", 2.0),
        ("ln(exp(A))", 3.0),
        ("abs(A - B)", 1.0),
        ("floor(B / A)", 1.0),
        ("ceil(B / A)", 2.0),
        ("sin(0) + cos(0) + tan(0)", 1.0),
        ("tanh(0) + cosh(0) + sinh(0)", 1.0),
        ("arcsin(0) + arccos(1) + arctan(0)", 0.0),
        ("min(A, B, 1)", 1.0),
        ("max(A, B)", 4.0),
        ("pi", np.pi),
        ("exponentiale", np.e),
        ("piecewise(10, A > B, 20, A < B, 30)", 20.0),
        ("piecewise(10, A > B, 30)", 30.0),
        ("piecewise(10, A < B)", 10.0),
        ("A < B", 1.0),
        ("A == 3 && B != 3", 1.0),
        ("A >= 3 || B <= 0", 1.0),
        ("!(A > 2)", 0.0),
        ("xor(A > 2, B > 2)", 0.0),
        ("implies(A > 5, B > 100)", 1.0),
        ("A < B < 2", 0.0),
        ("true + false", 1.0),
        ("factorial(A) + factorial(0)", 7.0),
        ("quotient(7, -2) + quotient(B, A)", -2.0),  # rounded towards 0
        ("rem(-7, 2) + rem(B, A)", 0.0),  # the sign of the dividend: -1 + 1
        ("sec(0) + csc(pi / 2) + cot(pi / 4)", 3.0),
        ("sech(0) + arcsec(1) + arccsc(1) + arccot(1)", 1.0 + np.pi / 2 + np.pi / 4),
        ("arcsinh(0) + arccosh(1) + arctanh(0) + arcsech(1) + arccoth(2) + arccsch(1)",
         np.arctanh(0.5) + np.arcsinh(1.0)),
        ("csch(1) * coth(1)", np.cosh(1.0) / np.sinh(1.0) ** 2),
    ],
)
def test_operations_evaluate_like_numpy(formula, expected):
    assert value(formula) == pytest.approx(expected, rel=1e-6, abs=1e-6)


def test_piecewise_without_a_true_piece_or_otherwise_is_nan():
    assert np.isnan(value("piecewise(10, A > B)"))


def test_parameters_are_trainable_leaves():
    e = parse("k * A * B", k=0.5)
    assert e.species == ("A", "B")
    assert e.tree == ("times", ("param", "k"), ("species", "A"), ("species", "B"))
    grad = jax.grad(lambda e: e.evaluate(X, INDEX))(e)
    assert float(grad.parameters["k"]) == 12.0
    assert str(e) == "k * A * B"


def test_identical_expressions_share_one_compilation():
    calls = []

    @eqx.filter_jit
    def f(e, x):
        calls.append(1)
        return e.evaluate(x, INDEX)

    f(parse("k * A", k=1.0), X)
    f(parse("k * A", k=2.0), X)
    assert len(calls) == 1
    f(parse("k * B", k=2.0), X)
    assert len(calls) == 2


@pytest.mark.parametrize(
    ("tree", "parameters", "match"),
    [
        (("frobnicate", ("const", 1.0)), {}, "unknown operation"),
        (("exp", ("const", 1.0), ("const", 2.0)), {}, "cannot take 2 arguments"),
        (("minus",), {}, "cannot take 0 arguments"),
        (("gt", ("const", 1.0)), {}, "cannot take 1 arguments"),
        (("const", 1), {}, "one float"),
        (("const", float("nan")), {}, "not NaN"),
        (("species", ""), {}, "one name"),
        (("time", 1), {}, "no arguments"),
        ("A", {}, "malformed"),
        (("param", "k"), {}, "no value"),
        (("species", "A"), {"k": 1.0}, "not used"),
        (("param", "k"), {"k": float("inf")}, "finite"),
        (("param", "k"), {"k": jnp.ones(2)}, "scalar"),
        (("gt", ("time",), ("const", 1.0)), {}, "cannot depend on time"),
    ],
)
def test_bad_trees_are_refused(tree, parameters, match):
    with pytest.raises(ValueError, match=match):
        Expression(tree, parameters)


def nested(depth):
    tree = ("species", "A")
    for _ in range(depth - 1):
        tree = ("minus", tree)
    return tree


def test_size_and_depth_limits():
    Expression(nested(MAX_DEPTH))
    with pytest.raises(ValueError, match="deeper than"):
        Expression(nested(MAX_DEPTH + 1))
    with pytest.raises(ValueError, match="more than"):
        Expression(("plus", *[("species", "A")] * MAX_NODES))


@pytest.mark.parametrize(
    ("formula", "match"),
    [
        ("A +", "cannot parse"),
        ("delay(A, 1)", "'delay' is not supported"),
        ("rateOf(A)", "'rateOf' is not supported"),
        ("A * time", "uses time"),
        ("f(A)", "undefined function 'f'"),
        ("NaN", "NaN constants"),
    ],
)
def test_parse_errors(formula, match):
    with pytest.raises(ValueError, match=match):
        parse(formula)


def test_parse_refuses_unused_parameters_and_non_strings():
    with pytest.raises(ValueError, match="not used"):
        parse("A", k=1.0)
    with pytest.raises(TypeError, match="must be a string"):
        parse(3.0)


A, B, C = ("species", "A"), ("species", "B"), ("species", "C")


def const(value):
    return ("const", float(value))


@pytest.mark.parametrize(
    ("formula", "tree"),
    [
        ("A + B + C", ("plus", A, B, C)),
        ("(A + B) + C", ("plus", A, B, C)),
        ("A + (B + C)", ("plus", A, ("plus", B, C))),
        ("A - B - C", ("minus", ("minus", A, B), C)),
        ("A - B + C", ("plus", ("minus", A, B), C)),
        ("A / B * C", ("times", ("divide", A, B), C)),
        ("A * B / C", ("divide", ("times", A, B), C)),
        ("-A * B", ("times", ("minus", A), B)),
        ("-A^2", ("minus", ("power", A, const(2)))),
        ("A^B^C", ("power", A, ("power", B, C))),
        ("A^-B", ("power", A, ("minus", B))),
        ("+A - -B", ("minus", A, ("minus", B))),
        ("!A^2", ("not", ("power", A, const(2)))),
        ("A < B < 2", ("lt", A, B, const(2))),
        ("A < B <= C", ("and", ("lt", A, B), ("leq", B, C))),
        ("A < B <= C <= 2", ("and", ("lt", A, B), ("leq", B, C, const(2)))),
        ("(A < B) < 2", ("lt", ("lt", A, B), const(2))),
        ("A + 1 > B * 2", ("gt", ("plus", A, const(1)), ("times", B, const(2)))),
        ("A && B || C", ("or", ("and", A, B), C)),
        ("A || B && C", ("and", ("or", A, B), C)),
        ("A < B && B < C", ("and", ("lt", A, B), ("lt", B, C))),
        ("EXP(A) + Pow(A, 2)", ("plus", ("exp", A), ("power", A, const(2)))),
        ("log(A) + log10(A) + log(2, A)",
         ("plus", ("log", const(10), A), ("log", const(10), A), ("log", const(2), A))),
        ("sqrt(A) * ceil(A) * asin(A)", ("times", ("root", const(2), A), ("ceiling", A),
                                         ("arcsin", A))),
        ("plus() + times(A, B)", ("plus", ("times", A, B))),
        ("1.5e3 * .5 * 2. * 1E-3", ("times", const(1500), const(0.5), const(2), const(1e-3))),
        ("Pi * TRUE * INF", ("times", const(np.pi), const(1), const(np.inf))),
    ],
)
def test_formula_syntax(formula, tree):
    assert parse(formula).tree == tree


@pytest.mark.parametrize(
    ("formula", "message"),
    [
        ("A +", "unexpected end of formula at position 3"),
        ("", "unexpected end of formula at position 0"),
        ("(A", "missing ')' at position 2"),
        ("A)", "unexpected ')' at position 1"),
        ("A B", "unexpected name 'B' at position 2"),
        ("2x", "unexpected name 'x' at position 1"),
        ("A, B", "unexpected ',' at position 1"),
        ("max(A, )", "unexpected symbol ')' at position 7"),
        ("A $ B", "unexpected character '$' at position 2"),
        ("A * * B", "unexpected symbol '*' at position 4"),
    ],
)
def test_syntax_errors_name_the_position(formula, message):
    with pytest.raises(ValueError, match="cannot parse formula") as error:
        parse(formula)
    assert str(error.value).endswith(message)


def test_deep_and_large_formulas_are_refused_without_recursion():
    deep = "-(" * 100_000 + "A" + ")" * 100_000
    with pytest.raises(ValueError, match="deeper than"):
        parse(deep)
    assert parse("(" * 100_000 + "A" + ")" * 100_000).tree == A
    with pytest.raises(ValueError, match=f"more than {MAX_NODES}"):
        parse(" + ".join(["A"] * (MAX_NODES + 1)))


@pytest.mark.parametrize(
    "formula",
    [
        "k * A * (A - 1) / 2",
        "piecewise(1, A > 2, B < 3, 0)",
        "log(2, A) + root(3, B) + sqrt(A) - -B",
        "A >= 2 && !(B == 1) || xor(A < 1, B > 1)",
        "min(A, B)^max(A, 2.5e-3)",
        "(-A)^2 + -(A * B) + A^(B + 1) + (A^B)^2",
        "A / (B / 2) - (A - B) + A * (B + 1)",
        "A < B < 2 && (A < B) < 2",
        "exp(A) * floor(B) * ceil(A) * abs(B) * 1e-07",
    ],
)
def test_formulas_print_as_formulas_that_read_back(formula):
    e = parse(formula, **({"k": 1.0} if "k" in formula else {}))
    assert parse(str(e), **e.parameters).tree == e.tree


def test_importing_and_using_expressions_does_not_load_libsbml():
    script = textwrap.dedent(
        """
        import sys
        import jax.numpy as jnp
        import jumpax as jx
        law = jx.ExpressionKinetics("k * X * (X - 1) / 2", k=0.5)
        rule = jx.AssignmentRule("Y", jx.StateFunction(jx.parse_expression("2 * X"), ("X", "Y")))
        net = jx.ReactionNetwork([jx.Reaction("2 X -> 0", law)], species=("X", "Y"),
                                 x0={"X": 3}, rules=[rule])
        net.propensities(net.x0), net.ode_rates(net.x0), str(law.expression)
        jx.Expression(("param", "k"), {"k": 1.0})
        assert "libsbml" not in sys.modules, "libsbml was imported"
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

def test_state_function_binds_a_species_order():
    f = StateFunction(parse("2 * B"), ("A", "B"))
    assert float(f(X)) == 8.0
    with pytest.raises(ValueError, match="unknown species"):
        StateFunction(parse("2 * C"), ("A", "B"))


def test_expression_kinetics_in_a_network():
    law = ExpressionKinetics("k * P * (P - 1) / 2", k=0.002)
    net = jx.ReactionNetwork([jx.Reaction("2 P -> P2", law), ("P2 -> 2 P", 0.01)])
    np.testing.assert_allclose(net.propensities(jnp.array([10.0, 5.0])), [0.09, 0.05], rtol=1e-6)
    reference = jx.ReactionNetwork([("2 P -> P2", 0.002), ("P2 -> 2 P", 0.01)])
    x = jnp.array([10.0, 5.0])
    np.testing.assert_allclose(net.propensities(x), reference.propensities(x), rtol=1e-6)
    grad = jax.grad(lambda n: n.propensities(x)[0])(net)
    assert float(grad.reactions[0].kinetics.expression.parameters["k"]) == pytest.approx(45.0)


def test_expression_kinetics_reads_other_species_and_refuses_bad_arguments():
    law = ExpressionKinetics(parse("v * E / (1 + E)", v=2.0))
    assert law.species_refs == ("E",)
    net = jx.ReactionNetwork([jx.Reaction("0 -> X", law), ("X -> 0", 1.0)])
    assert net.species == ("X", "E")
    assert float(net.propensities(jnp.array([0.0, 1.0]))[0]) == 1.0
    with pytest.raises(ValueError, match="with a formula"):
        ExpressionKinetics(parse("v", v=1.0), v=2.0)
    with pytest.raises(TypeError, match="expected an Expression"):
        ExpressionKinetics(3.0)


def test_ode_rates_are_not_checked_for_sign():
    # a deterministic rate may be negative; only the exact propensity is checked
    net = jx.ReactionNetwork([jx.Reaction("0 -> 2 X", ExpressionKinetics("5 - X"))])
    x = jnp.array([6.0])
    assert float(net.ode_rates(x)[0]) == -1.0
    assert float(eqx.filter_jit(lambda n, x: n.ode_rates(x))(net, x)[0]) == -1.0
    np.testing.assert_array_equal(net.ode_rhs(0.0, x), [-2.0])
    with pytest.raises(RuntimeError, match="negative or non-finite propensity"):
        net.propensities(x)


def test_negative_propensities_stop_the_simulation():
    # 0 -> 2 X at rate 5 - X: from X = 4 it jumps to 6, where the law is -1
    net = jx.ReactionNetwork([jx.Reaction("0 -> 2 X", ExpressionKinetics("5 - X"))])
    with pytest.raises(RuntimeError, match="negative or non-finite propensity"):
        jax.block_until_ready(jx.simulate(jax.random.key(0), net, {"X": 0}, 10.0, max_steps=50))
    with pytest.raises(RuntimeError, match="negative or non-finite propensity"):
        net.propensities(jnp.array([6.0]))


def test_unavailable_reactants_gate_the_law_without_an_error():
    # k (X - 1) is negative at X = 0, where X -> 0 cannot fire anyway
    net = jx.ReactionNetwork([jx.Reaction("X -> 0", ExpressionKinetics("0.5 * (X - 1)"))])
    assert float(net.propensities(jnp.array([0.0]))[0]) == 0.0
    res = jx.simulate(jax.random.key(0), net, {"X": 5}, 100.0, max_steps=50)
    assert float(res.x[-1, 0]) == 1.0  # it stops where the law reaches 0


# ----------------------------------------------------------------------------- many laws


def _saturating_ring(n):
    reactions = [
        jx.Reaction(
            f"S{i} -> S{(i + 1) % n}",
            ExpressionKinetics(f"k * S{i} / (K + S{i}) + 0.5", k=1.0 + 0.01 * i, K=5.0 + i),
        )
        for i in range(n)
    ]
    extra = [
        jx.Reaction("0 -> S0", ExpressionKinetics("v * (S1 > 3) + 2", v=3.0)),
        jx.Reaction("S1 -> 0", ExpressionKinetics("h * S1 ^ 2", h=0.01)),
    ]
    return jx.ReactionNetwork(reactions + extra, x0={f"S{i}": 2 * i for i in range(n)})


def test_laws_of_one_shape_evaluate_together_bit_for_bit():
    net = _saturating_ring(30)
    x = jnp.asarray(net.x0).at[3].set(0.0)
    each = jnp.stack([
        jnp.asarray(r.kinetics.expression.evaluate(x, net.index), jnp.float32)
        for r in net.reactions
    ])
    available = np.all(np.asarray(x)[None, :] >= net.reactant_matrix, axis=1)
    np.testing.assert_array_equal(net.propensities(x), np.where(available, each, 0.0))
    np.testing.assert_array_equal(net.ode_rates(x), each)


def test_compiled_size_grows_slowly_with_the_number_of_general_laws():
    # 400 general laws used to take 53 s to compile (about 60 operations per law, fused
    # superlinearly); laws of one shape are now one vectorised evaluation: the propensities
    # cost a few operations per law (gathering parameters), not a copy of the law each.
    import re

    def size(n):
        net = _saturating_ring(n)
        text = jax.jit(lambda x: net.propensities(x)).lower(net.x0).as_text()
        return len(re.findall(r"= \"?stablehlo\.[a-z_]+", text))

    assert size(200) - size(20) < 6 * 180
