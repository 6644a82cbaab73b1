"""The benchmark models, written once in a tool-neutral form.

Every adapter translates a :class:`Model` into its own tool's API. Rate constants follow the
jumpax mass-action convention: the propensity of a reaction with reactant coefficients ``s_i``
is ``k * prod_i C(x_i, s_i)`` (so ``2 P -> D`` with ``k = 0.001`` fires at ``0.0005 P (P-1)``).
Adapters for tools with another convention convert (see ``gillespy2_adapter``).

Only the standard library and numpy are used here, so the orchestrator can import this module
outside the benchmark environment.
"""

from __future__ import annotations

import gzip
import math
import pathlib
from dataclasses import dataclass, field
from xml.etree import ElementTree

import numpy as np

N_GRID = 101
"""Number of save points in grid mode (``linspace(0, t1, N_GRID)``)."""


@dataclass(frozen=True)
class Rxn:
    """One reaction: ``reactants`` and ``products`` map species names to coefficients."""

    reactants: dict[str, int]
    products: dict[str, int]
    k: float

    def equation(self) -> str:
        """The reaction as a jumpax/stochastix string, e.g. ``"2 P -> D"``."""

        def side(terms: dict[str, int]) -> str:
            if not terms:
                return "0"
            return " + ".join(name if c == 1 else f"{c} {name}" for name, c in terms.items())

        return f"{side(self.reactants)} -> {side(self.products)}"

    def change(self, species: tuple[str, ...]) -> list[int]:
        """Net change of every species when the reaction fires."""
        return [self.products.get(s, 0) - self.reactants.get(s, 0) for s in species]


@dataclass(frozen=True)
class Model:
    """A reaction network with its initial state, horizon and a checked observable."""

    name: str
    species: tuple[str, ...]
    reactions: tuple[Rxn, ...]
    x0: dict[str, int]
    t1: float
    expected_events: float
    """Approximate events per trajectory, used to size event buffers and time caps."""
    observable: str
    """Species whose mean count at ``t1`` is compared between tools."""
    analytic_mean: float | None = None
    """Exact mean of ``observable`` at ``t1`` where known."""
    description: str = ""
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def x0_vector(self) -> list[int]:
        """Initial counts in species order."""
        return [int(self.x0.get(s, 0)) for s in self.species]

    @property
    def observable_index(self) -> int:
        """Position of the observable in ``species``."""
        return self.species.index(self.observable)

    @property
    def max_steps(self) -> int:
        """Event buffer length: 1.3x the expected events, plus slack for small counts."""
        return int(1.3 * self.expected_events) + 100

    def grid(self) -> np.ndarray:
        """The save points of grid mode."""
        return np.linspace(0.0, self.t1, N_GRID)

    def stoichiometry(self) -> np.ndarray:
        """Net change matrix, shape ``(n_reactions, n_species)``."""
        return np.array([r.change(self.species) for r in self.reactions], dtype=np.int64)


def birth_death() -> Model:
    """``0 -> X`` at 10, ``X -> 0`` at 0.1 per molecule; X(0) = 0, t1 = 1000."""
    return Model(
        name="birth-death",
        species=("X",),
        reactions=(Rxn({}, {"X": 1}, 10.0), Rxn({"X": 1}, {}, 0.1)),
        x0={"X": 0},
        t1=1000.0,
        expected_events=20_000.0,
        observable="X",
        analytic_mean=100.0 * (1.0 - np.exp(-0.1 * 1000.0)),
        description="0 -> X (10), X -> 0 (0.1 X); X0 = 0, t1 = 1000",
    )


def dimerisation() -> Model:
    """``2P -> D`` at propensity ``0.0005 P (P-1)``, ``D -> 2P`` at 0.5 D; P(0) = 301, t1 = 10."""
    return Model(
        name="dimerisation",
        species=("P", "D"),
        reactions=(Rxn({"P": 2}, {"D": 1}, 0.001), Rxn({"D": 1}, {"P": 2}, 0.5)),
        x0={"P": 301, "D": 0},
        t1=10.0,
        expected_events=500.0,
        observable="P",
        description="2P -> D (0.0005 P(P-1)), D -> 2P (0.5 D); P0 = 301, t1 = 10",
    )


CHAIN_MOLECULES = 100
CHAIN_HOP_RATE = 1.0
CHAIN_T1 = 5.0


def chain(compartments: int) -> Model:
    """A 1-D diffusion chain ``X_i <-> X_{i+1}`` (``2 (compartments - 1)`` reactions).

    All ``CHAIN_MOLECULES`` molecules start in ``X0``; each hops to either neighbour at
    ``CHAIN_HOP_RATE`` (reflecting ends). The observable is ``X0``; its mean at ``t1`` is
    ``N * [exp(Q t1)]_{00}`` for the single-molecule generator ``Q``.
    """
    species = tuple(f"X{i}" for i in range(compartments))
    reactions = []
    for i in range(compartments - 1):
        reactions.append(Rxn({species[i]: 1}, {species[i + 1]: 1}, CHAIN_HOP_RATE))
        reactions.append(Rxn({species[i + 1]: 1}, {species[i]: 1}, CHAIN_HOP_RATE))
    generator = np.zeros((compartments, compartments))
    for i in range(compartments - 1):
        generator[i, i + 1] = generator[i + 1, i] = CHAIN_HOP_RATE
    generator -= np.diag(generator.sum(axis=1))
    eigenvalues, vectors = np.linalg.eigh(generator)  # symmetric generator
    p00 = float((vectors[0] ** 2) @ np.exp(eigenvalues * CHAIN_T1))
    # Each molecule hops at total rate 2 (1 at the ends): about 2 * N * t1 events.
    return Model(
        name=f"chain-{compartments}",
        species=species,
        reactions=tuple(reactions),
        x0={species[0]: CHAIN_MOLECULES},
        t1=CHAIN_T1,
        expected_events=2.0 * CHAIN_MOLECULES * CHAIN_HOP_RATE * CHAIN_T1,
        observable=species[0],
        analytic_mean=CHAIN_MOLECULES * p00,
        description=(
            f"diffusion chain, {compartments} compartments, {2 * (compartments - 1)} reactions; "
            f"{CHAIN_MOLECULES} molecules start in X0, hop rate {CHAIN_HOP_RATE}, t1 = {CHAIN_T1}"
        ),
    )


LATTICE_BIRTH = 1.0
LATTICE_DEATH = 0.1
LATTICE_HOP_RATE = 1.0
LATTICE_X0 = 10


def lattice(side: int) -> Model:
    """A periodic ``side x side`` reaction-diffusion lattice (``6 side**2`` reactions).

    One species per site, each with birth ``0 -> X`` at ``LATTICE_BIRTH``, death ``X -> 0`` at
    ``LATTICE_DEATH`` per molecule and a hop to each of its 4 neighbours at
    ``LATTICE_HOP_RATE`` per molecule. Every site starts at ``LATTICE_X0``, the stationary
    mean ``birth / death``, so each site's mean stays there (hops conserve it). About
    ``(birth + death x0 + 4 hop x0) = 42`` events per site and unit time; ``t1 = 100 / side**2``
    keeps about 4,200 events per trajectory at every size.
    """
    sites = [(i, j) for i in range(side) for j in range(side)]
    species = tuple(f"X{i}_{j}" for i, j in sites)
    reactions = []
    for i, j in sites:
        here = f"X{i}_{j}"
        reactions.append(Rxn({}, {here: 1}, LATTICE_BIRTH))
        reactions.append(Rxn({here: 1}, {}, LATTICE_DEATH))
        for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            there = f"X{(i + di) % side}_{(j + dj) % side}"
            reactions.append(Rxn({here: 1}, {there: 1}, LATTICE_HOP_RATE))
    t1 = 100.0 / side**2
    rate = LATTICE_BIRTH + LATTICE_X0 * (LATTICE_DEATH + 4 * LATTICE_HOP_RATE)
    return Model(
        name=f"lattice-{side}",
        species=species,
        reactions=tuple(reactions),
        x0={name: LATTICE_X0 for name in species},
        t1=t1,
        expected_events=rate * side**2 * t1,
        observable=species[0],
        analytic_mean=LATTICE_BIRTH / LATTICE_DEATH,
        description=(
            f"periodic {side}x{side} reaction-diffusion lattice, {6 * side**2} reactions "
            f"(birth {LATTICE_BIRTH}, death {LATTICE_DEATH}, hops {LATTICE_HOP_RATE} to 4 "
            f"neighbours); {LATTICE_X0} molecules per site, t1 = 100 / {side}^2"
        ),
    )


MULTISITE_SUBSTRATE = 1000
MULTISITE_ENZYME = 10
MULTISITE_RATE = 0.1


def multisite(sites: int) -> Model:
    """Multisite phosphorylation, expanded as rule-based tools (BioNetGen) expand it.

    A substrate with ``sites`` phosphorylation sites has ``2**sites`` states ``S_<bits>``; a
    kinase ``K`` sets and a phosphatase ``P`` clears each site, by bimolecular mass action
    (``S_s + K -> S_s' + K`` at ``MULTISITE_RATE``): ``sites * 2**sites`` reactions. jumpax
    reads the network from an SBML file (tag ``sbml``). Each site of each molecule flips
    independently at rate ``MULTISITE_RATE * MULTISITE_ENZYME = 1`` either way, so the mean
    of the unphosphorylated state at ``t1`` is ``N ((1 + exp(-2 t1)) / 2)**sites``; ``t1 =
    4.2 / sites`` keeps about 4,200 events per trajectory at every size.
    """
    states = [format(s, f"0{sites}b") for s in range(2**sites)]
    species = tuple(f"S_{bits}" for bits in states) + ("K", "P")
    reactions = []
    for s, bits in enumerate(states):
        for i in range(sites):
            flipped = f"S_{states[s ^ (1 << i)]}"
            enzyme = "P" if (s >> i) & 1 else "K"
            reactions.append(
                Rxn({f"S_{bits}": 1, enzyme: 1}, {flipped: 1, enzyme: 1}, MULTISITE_RATE)
            )
    flip = MULTISITE_RATE * MULTISITE_ENZYME
    t1 = 4.2 / sites
    return Model(
        name=f"multisite-{sites}",
        species=species,
        reactions=tuple(reactions),
        x0={species[0]: MULTISITE_SUBSTRATE, "K": MULTISITE_ENZYME, "P": MULTISITE_ENZYME},
        t1=t1,
        expected_events=MULTISITE_SUBSTRATE * sites * flip * t1,
        observable=species[0],
        analytic_mean=MULTISITE_SUBSTRATE * ((1 + math.exp(-2 * flip * t1)) / 2) ** sites,
        description=(
            f"multisite phosphorylation, {sites} sites: {2**sites + 2} species, "
            f"{sites * 2**sites} bimolecular reactions (read from SBML by jumpax); "
            f"{MULTISITE_SUBSTRATE} substrates, {MULTISITE_ENZYME} kinases and phosphatases, "
            f"t1 = 4.2 / {sites}"
        ),
        tags=("sbml",),
    )


EGFR_FILE = pathlib.Path(__file__).resolve().parents[1] / "data" / "egfr_net.xml.gz"
"""BioNetGen's SBML export of the EGFR network (see ``bench/data/README.md``)."""

_MATHML = "{http://www.w3.org/1998/Math/MathML}"


def _monomial_constant(math_node: ElementTree.Element, values: dict[str, float]) -> tuple:
    """``(c, species)`` of a MathML law that is a product ``c * S1 * S2 ...``."""
    apply = math_node.find(f"{_MATHML}apply")
    if apply is None or apply[0].tag != f"{_MATHML}times":
        raise ValueError("not a product")
    c, species = 1.0, []
    for factor in apply[1:]:
        text = (factor.text or "").strip()
        if factor.tag == f"{_MATHML}cn":
            c *= float(text)
        elif factor.tag == f"{_MATHML}ci" and text in values:
            c *= values[text]
        elif factor.tag == f"{_MATHML}ci":
            species.append(text)
        else:
            raise ValueError(f"unexpected {factor.tag}")
    return c, species


def egfr() -> Model:
    """The EGFR signalling network (Blinov et al. 2006): 356 species, 3,749 reactions.

    Read from BioNetGen's SBML export (``EGFR_FILE``), as JumpProcesses and Catalyst benchmark
    it. Every kinetic law is ``c * S1 * S2 ...`` over the reactants; BioNetGen writes
    ``0.5 * k * S * S`` for ``S + S`` and simulates it as ``0.5 k S (S - 1)``, so the rate
    constant here (this module's convention, ``k prod_i C(x_i, s_i)``) is ``c prod_i s_i!``.
    Starts from the file's initial amounts (1.2 million ligands, 180,000 receptors, ...);
    ``t1 = 0.01`` gives about 3,600 events per trajectory, mostly ligand binding.
    """
    ns = "{http://www.sbml.org/sbml/level2/version3}"
    root = ElementTree.fromstring(gzip.decompress(EGFR_FILE.read_bytes()))
    model = root.find(f"{ns}model")
    values = {p.get("id"): float(p.get("value")) for p in model.iter(f"{ns}parameter")}
    values.update({c.get("id"): float(c.get("size")) for c in model.iter(f"{ns}compartment")})
    x0 = {s.get("id"): int(float(s.get("initialAmount"))) for s in model.iter(f"{ns}species")}
    reactions = []
    for reaction in model.iter(f"{ns}reaction"):
        sides = []
        for tag in ("listOfReactants", "listOfProducts"):
            terms: dict[str, int] = {}
            for ref in reaction.findall(f"{ns}{tag}/{ns}speciesReference"):
                name = ref.get("species")
                terms[name] = terms.get(name, 0) + int(float(ref.get("stoichiometry", "1")))
            sides.append(terms)
        c, read = _monomial_constant(reaction.find(f"{ns}kineticLaw/{_MATHML}math"), values)
        counted: dict[str, int] = {}
        for name in read:
            counted[name] = counted.get(name, 0) + 1
        if counted != sides[0]:
            raise ValueError(f"reaction {reaction.get('id')}: law reads {read}, not its reactants")
        k = c * math.prod(math.factorial(n) for n in sides[0].values())
        reactions.append(Rxn(sides[0], sides[1], k))
    return Model(
        name="egfr",
        species=tuple(x0),
        reactions=tuple(reactions),
        x0=x0,
        t1=0.01,
        expected_events=3600.0,
        observable="S7",
        description=(
            "EGFR signalling (Blinov et al. 2006), BioNetGen's SBML export: 356 species, "
            "3,749 reactions (read from SBML by jumpax); the file's initial amounts, t1 = 0.01"
        ),
        tags=("sbml",),
    )


def get_model(name: str) -> Model:
    """Looks a model up: ``birth-death``, ``dimerisation``, ``chain-<M>``, ``lattice-<side>``,
    ``multisite-<sites>``, ``egfr``."""
    if name == "birth-death":
        return birth_death()
    if name == "dimerisation":
        return dimerisation()
    if name.startswith("chain-"):
        return chain(int(name.split("-", 1)[1]))
    if name.startswith("lattice-"):
        return lattice(int(name.split("-", 1)[1]))
    if name.startswith("multisite-"):
        return multisite(int(name.split("-", 1)[1]))
    if name == "egfr":
        return egfr()
    raise ValueError(f"unknown model {name!r}")
