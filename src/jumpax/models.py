"""Ready-made reaction networks with documented default parameters and initial states.

Each function returns a :class:`~jumpax.ReactionNetwork` whose ``x0`` is the default initial
state; every rate is a keyword argument. ``CATALOGUE`` maps the command-line names to the
functions and a sensible simulation horizon.

Example:
    >>> net = jx.models.dimerisation()
    >>> res = jx.simulate(jax.random.key(0), net, net.x0, 50.0)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from jaxtyping import ArrayLike

from ._network._kinetics import HillRepression, MassAction
from ._network._network import Reaction, ReactionNetwork


def birth_death(birth: ArrayLike = 10.0, death: ArrayLike = 0.1, x0: int = 0) -> ReactionNetwork:
    """Constitutive production and first-order degradation: ``0 -> X``, ``X -> 0``.

    Propensities ``birth`` and ``death * X``; the stationary law is Poisson with mean
    ``birth / death`` (100 by default), reached on the time scale ``1 / death``.
    Defaults: ``birth=10``, ``death=0.1``, ``X(0)=0``.
    """
    return ReactionNetwork(
        [
            Reaction("0 -> X", MassAction(birth), "birth"),
            Reaction("X -> 0", MassAction(death), "death"),
        ],
        x0={"X": x0},
    )


def immigration_death(alpha: ArrayLike = 1.0, mu: ArrayLike = 0.1, x0: int = 0) -> ReactionNetwork:
    """The DSMTS immigration-death model (002-01): ``0 -> X`` at ``alpha``, ``X -> 0`` at ``mu X``.

    ``X(t)`` is Poisson with mean ``alpha/mu (1 - exp(-mu t))`` from ``X(0)=0``.
    Defaults: ``alpha=1``, ``mu=0.1``, ``X(0)=0``.
    """
    return ReactionNetwork(
        [
            Reaction("0 -> X", MassAction(alpha), "Immigration"),
            Reaction("X -> 0", MassAction(mu), "Death"),
        ],
        x0={"X": x0},
    )


def linear_birth_death(
    lam: ArrayLike = 0.1, mu: ArrayLike = 0.11, x0: int = 100
) -> ReactionNetwork:
    """The DSMTS birth-death model (001-01): ``X -> 2 X`` at ``lam X``, ``X -> 0`` at ``mu X``.

    ``E[X(t)] = X(0) exp((lam - mu) t)``. Defaults: ``lam=0.1``, ``mu=0.11``, ``X(0)=100``.
    """
    return ReactionNetwork(
        [
            Reaction("X -> 2 X", MassAction(lam), "Birth"),
            Reaction("X -> 0", MassAction(mu), "Death"),
        ],
        x0={"X": x0},
    )


def dimerisation(k1: ArrayLike = 0.001, k2: ArrayLike = 0.01, p0: int = 100) -> ReactionNetwork:
    """The DSMTS dimerisation model (003-01): ``2 P -> P2``, ``P2 -> 2 P``.

    Propensities ``k1 P (P-1) / 2`` and ``k2 P2``. Defaults: ``k1=0.001``, ``k2=0.01``,
    ``P(0)=100``, ``P2(0)=0``.
    """
    return ReactionNetwork(
        [
            Reaction("2 P -> P2", MassAction(k1), "Dimerisation"),
            Reaction("P2 -> 2 P", MassAction(k2), "Disassociation"),
        ],
        x0={"P": p0, "P2": 0},
    )


def telegraph(
    k_on: ArrayLike = 1.0, k_off: ArrayLike = 2.0, k_tx: ArrayLike = 20.0, k_deg: ArrayLike = 1.0
) -> ReactionNetwork:
    """The telegraph promoter: a gene switching on and off, transcribing only when on.

    Reactions ``G_off -> G_on`` (``k_on``), ``G_on -> G_off`` (``k_off``),
    ``G_on -> G_on + M`` (``k_tx``), ``M -> 0`` (``k_deg M``). One gene copy, off at t=0, no mRNA.
    Stationary mean mRNA ``k_tx k_on / (k_deg (k_on + k_off))`` (6.67 by default).
    Defaults: ``k_on=1``, ``k_off=2``, ``k_tx=20``, ``k_deg=1``.
    """
    return ReactionNetwork(
        [
            Reaction("G_off -> G_on", MassAction(k_on), "on"),
            Reaction("G_on -> G_off", MassAction(k_off), "off"),
            Reaction("G_on -> G_on + M", MassAction(k_tx), "transcription"),
            Reaction("M -> 0", MassAction(k_deg), "degradation"),
        ],
        x0={"G_off": 1, "G_on": 0, "M": 0},
    )


def two_stage_gene_expression(
    k_m: ArrayLike = 1.0, g_m: ArrayLike = 0.1, k_p: ArrayLike = 1.0, g_p: ArrayLike = 0.05
) -> ReactionNetwork:
    """Two-stage gene expression: transcription, translation and degradation of both.

    Reactions ``0 -> M`` (``k_m``), ``M -> M + P`` (``k_p M``), ``M -> 0`` (``g_m M``),
    ``P -> 0`` (``g_p P``). Stationary means ``k_m/g_m`` mRNA (10) and
    ``k_m k_p / (g_m g_p)`` protein (200). Defaults: ``k_m=1``, ``g_m=0.1``, ``k_p=1``,
    ``g_p=0.05``, starting empty.
    """
    return ReactionNetwork(
        [
            Reaction("0 -> M", MassAction(k_m), "transcription"),
            Reaction("M -> M + P", MassAction(k_p), "translation"),
            Reaction("M -> 0", MassAction(g_m), "mRNA decay"),
            Reaction("P -> 0", MassAction(g_p), "protein decay"),
        ],
        x0={"M": 0, "P": 0},
    )


def lotka_volterra(
    c1: ArrayLike = 1.0,
    c2: ArrayLike = 0.005,
    c3: ArrayLike = 0.6,
    prey: int = 50,
    predators: int = 100,
) -> ReactionNetwork:
    """Stochastic Lotka-Volterra predator-prey dynamics.

    Reactions ``X -> 2 X`` (prey birth, ``c1 X``), ``X + Y -> 2 Y`` (predation, ``c2 X Y``),
    ``Y -> 0`` (predator death, ``c3 Y``). Defaults (Wilkinson, *Stochastic Modelling for
    Systems Biology*): ``c1=1``, ``c2=0.005``, ``c3=0.6``, ``X(0)=50``, ``Y(0)=100``.
    """
    return ReactionNetwork(
        [
            Reaction("X -> 2 X", MassAction(c1), "prey birth"),
            Reaction("X + Y -> 2 Y", MassAction(c2), "predation"),
            Reaction("Y -> 0", MassAction(c3), "predator death"),
        ],
        x0={"X": prey, "Y": predators},
    )


def schlogl(
    k1: ArrayLike = 0.03,
    k2: ArrayLike = 1e-4,
    k3: ArrayLike = 200.0,
    k4: ArrayLike = 3.5,
    x0: int = 250,
) -> ReactionNetwork:
    """Schlögl's bistable model with buffered species folded into the rates.

    Reactions ``2 X -> 3 X`` (``k1 X(X-1)/2``), ``3 X -> 2 X`` (``k2 X(X-1)(X-2)/6``),
    ``0 -> X`` (``k3``), ``X -> 0`` (``k4 X``). The defaults are Gillespie's (2007) classic
    ``c1=3e-7, c2=1e-4, c3=1e-3, c4=3.5, N_A=1e5, N_B=2e5`` (``k1 = c1 N_A``, ``k3 = c3 N_B``),
    with stable states near 85 and 565 molecules; ``X(0)=250`` lies between them.
    """
    return ReactionNetwork(
        [
            Reaction("2 X -> 3 X", MassAction(k1), "autocatalysis"),
            Reaction("3 X -> 2 X", MassAction(k2), "reverse autocatalysis"),
            Reaction("0 -> X", MassAction(k3), "inflow"),
            Reaction("X -> 0", MassAction(k4), "outflow"),
        ],
        x0={"X": x0},
    )


def toggle_switch(
    alpha: ArrayLike = 50.0, K: ArrayLike = 10.0, n: ArrayLike = 2.0, gamma: ArrayLike = 1.0
) -> ReactionNetwork:
    """A genetic toggle switch: two proteins ``U`` and ``V`` repressing each other.

    Reactions ``0 -> U`` at ``alpha K^n / (K^n + V^n)``, ``0 -> V`` at
    ``alpha K^n / (K^n + U^n)``, ``U -> 0`` and ``V -> 0`` at ``gamma`` per molecule.
    Defaults: ``alpha=50``, ``K=10``, ``n=2``, ``gamma=1``, starting empty; trajectories settle
    into the ``U``-high or the ``V``-high state and switch rarely.
    """
    return ReactionNetwork(
        [
            Reaction("0 -> U", HillRepression("V", alpha, K, n), "U synthesis"),
            Reaction("0 -> V", HillRepression("U", alpha, K, n), "V synthesis"),
            Reaction("U -> 0", MassAction(gamma), "U decay"),
            Reaction("V -> 0", MassAction(gamma), "V decay"),
        ],
        species=("U", "V"),
        x0={"U": 0, "V": 0},
    )


def repressilator(
    alpha: ArrayLike = 100.0, K: ArrayLike = 20.0, n: ArrayLike = 3.0, gamma: ArrayLike = 1.0
) -> ReactionNetwork:
    """The repressilator (Elowitz and Leibler 2000), protein-only: a ring of three repressors.

    ``A`` represses ``B``, ``B`` represses ``C`` and ``C`` represses ``A``: reactions
    ``0 -> B`` at ``alpha K^n / (K^n + A^n)`` (and cyclically), and ``A, B, C -> 0`` at
    ``gamma`` per molecule. Defaults: ``alpha=100``, ``K=20``, ``n=3``, ``gamma=1``, starting
    from ``A=60``, ``B=C=0`` so the oscillation starts at once.
    """
    ring = (("C", "A"), ("A", "B"), ("B", "C"))
    synthesis = [
        Reaction(f"0 -> {target}", HillRepression(repressor, alpha, K, n), f"{target} synthesis")
        for repressor, target in ring
    ]
    decay = [Reaction(f"{s} -> 0", MassAction(gamma), f"{s} decay") for s in "ABC"]
    return ReactionNetwork(synthesis + decay, species=("A", "B", "C"), x0={"A": 60})


class CatalogueEntry(NamedTuple):
    """A built-in model: its constructor and a default horizon for the command line."""

    build: Callable[[], ReactionNetwork]
    t1: float


CATALOGUE: dict[str, CatalogueEntry] = {
    "birth_death": CatalogueEntry(birth_death, 100.0),
    "immigration_death": CatalogueEntry(immigration_death, 50.0),
    "linear_birth_death": CatalogueEntry(linear_birth_death, 50.0),
    "dimerisation": CatalogueEntry(dimerisation, 50.0),
    "telegraph": CatalogueEntry(telegraph, 20.0),
    "two_stage_gene_expression": CatalogueEntry(two_stage_gene_expression, 100.0),
    "lotka_volterra": CatalogueEntry(lotka_volterra, 30.0),
    "schlogl": CatalogueEntry(schlogl, 10.0),
    "toggle_switch": CatalogueEntry(toggle_switch, 50.0),
    "repressilator": CatalogueEntry(repressilator, 50.0),
}
"""Built-in models by command-line name."""

__all__ = [
    "CATALOGUE",
    "CatalogueEntry",
    "birth_death",
    "dimerisation",
    "immigration_death",
    "linear_birth_death",
    "lotka_volterra",
    "repressilator",
    "schlogl",
    "telegraph",
    "toggle_switch",
    "two_stage_gene_expression",
]
