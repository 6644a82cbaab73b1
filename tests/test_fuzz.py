"""Fuzzing the reaction-string parser and the SBML loader: every input is read or refused.

Each input must either parse (load) or raise ``ValueError``; any other exception (``TypeError``,
``KeyError``, ``IndexError``, ``RecursionError``, ...) is an escape, and the tests fail
listing the escapes (the first 50), each with what is needed to rebuild its input. The inputs
come from a fixed seed, so a failure reproduces: ``reaction_inputs()[i]`` and
``sbml_inputs()[i]`` are the inputs numbered ``#i`` in the messages.
"""

from __future__ import annotations

import dataclasses
import re
import traceback
from collections.abc import Callable

import numpy as np
import pytest

import jumpax as jx
from jumpax._network._network import parse_reaction

from dsmts_protocol import DATA

SEED = 14
"""One seed for every input: the same inputs on every run."""

N_REACTIONS = 4000
"""Reaction strings tried (under a second in all)."""

N_SBML = 6000
"""Mutated SBML files tried (under 2 ms each: about 10 s in all, on 2 shared cores)."""

DSMTS_FILES = sorted(DATA.glob("*-sbml-l3v2.xml"))

EXPORTED_MODELS = ("dimerisation", "repressilator", "schlogl", "toggle_switch")
"""Built-in models whose exported SBML (with ``jumpax:kinetics`` annotations) joins the DSMTS
files as seeds: the DSMTS files have no annotations."""

# ---------------------------------------------------------------------------- vocabulary
WEIRD = [
    "", " ", "0", "-0", "-1", "1.5", "170", "171", "1000", "2147483647", "2147483648",
    "4294967297", "1e308", "1e309", "-1e309", "1e-320", "5e-324", "1e40", "NaN", "nan", "INF",
    "-INF", "inf", "0x10", "1,5", "2.5e", "1e+", ".", "-", "+1", "007", "1_000", "abc", "true",
    "false", "time", "pi", "avogadro", "\u00e9", "\U0001d51b", "\u0663", "\u00b2", "&lt;",
    "&amp;", "<", ">", '"', "'", "&", "&#0;", "&#x1F600;", "\t", "\n", "X", "_", "a" * 300,
    "9" * 400,
]
"""Tokens that tend to break parsers: edge numbers, specials, markup, unicode."""

ELEMENTS = [
    "sbml", "model", "listOfSpecies", "species", "listOfParameters", "parameter",
    "listOfCompartments", "compartment", "listOfReactions", "reaction", "listOfReactants",
    "listOfProducts", "listOfModifiers", "speciesReference", "modifierSpeciesReference",
    "kineticLaw", "listOfLocalParameters", "localParameter", "listOfRules", "assignmentRule",
    "rateRule", "algebraicRule", "listOfEvents", "event", "trigger", "delay", "priority",
    "listOfEventAssignments", "eventAssignment", "listOfInitialAssignments",
    "initialAssignment", "listOfFunctionDefinitions", "functionDefinition", "constraint",
    "annotation", "notes", "math", "apply", "ci", "cn", "csymbol", "times", "plus", "minus",
    "divide", "power", "root", "degree", "log", "logbase", "ln", "exp", "piecewise", "piece",
    "otherwise", "lambda", "bvar", "eq", "neq", "lt", "gt", "and", "or", "not", "xor",
    "true", "false", "pi", "exponentiale", "infinity", "notanumber", "sep", "semantics",
    "factorial", "floor", "min", "max", "abs", "sin", "arccosh", "quotient", "rem",
]
"""SBML and MathML element names."""

REACTION_PIECES = [
    "A", "B", "C", "X", "Y_2", "_", "dimer", "0", "1", "2", "10", "007", " ", "  ", "\t", "\n",
    "+", " + ", "->", " -> ", "<-", "<->", "-", ">", "=", "=>", "1.5", "2.", ".5", "1e3",
    "-1", "(", ")", "*", "#", ",", ";", "\u0663", "\u00b2", "\u00e9", "\U0001d51b", "\x00",
    "99999999999999999999999", "time", "trajectory", "2A", "A2", "2 2 A", "+ +",
]
"""Pieces of (mostly almost valid) reaction strings."""

VALID_REACTIONS = [
    "A -> B", "2 A + B -> C", "0 -> X", "X -> 0", "A + A -> 2 B", "3 X + 2 Y_1 -> Z + _w",
    "dimer -> 2 monomer", "10 A -> 0",
]


# ---------------------------------------------------------------------------- reaction strings
def _choice(rng: np.random.Generator, items: list) -> object:
    return items[int(rng.integers(len(items)))]


def _random_reaction(rng: np.random.Generator) -> str:
    return "".join(str(_choice(rng, REACTION_PIECES)) for _ in range(int(rng.integers(0, 12))))


def _mutated_reaction(rng: np.random.Generator) -> str:
    text = str(_choice(rng, VALID_REACTIONS))
    for _ in range(int(rng.integers(1, 4))):
        at = int(rng.integers(len(text) + 1))
        end = at + int(rng.integers(0, 3))
        kind = int(rng.integers(3))
        if kind == 0:  # insert a piece
            text = text[:at] + str(_choice(rng, REACTION_PIECES)) + text[at:]
        elif kind == 1:  # delete characters
            text = text[:at] + text[end:]
        else:  # replace characters by a weird token
            text = text[:at] + str(_choice(rng, WEIRD)) + text[end:]
    return text


def reaction_inputs() -> list[str]:
    """The reaction strings of :func:`test_reaction_parser_fuzz`, half random, half mutated."""
    rng = np.random.default_rng(SEED)
    return [
        _random_reaction(rng) if i % 2 else _mutated_reaction(rng) for i in range(N_REACTIONS)
    ]


# ---------------------------------------------------------------------------- SBML files
@dataclasses.dataclass(frozen=True)
class SbmlInput:
    """A mutated DSMTS file and how it was made (for the failure messages)."""

    source: str
    steps: tuple[str, ...]
    data: bytes


_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?(?![\w.])")
_ATTRIBUTE = re.compile(r'(\w+(?::\w+)?)="([^"]*)"')
_OPENING = re.compile(r"(\s*)<([A-Za-z][\w:]*)")
_ID = re.compile(r'\bid="([^"]*)"')
_LONGEST_BLOCK = 40
"""Lines of the longest element that is grafted from one file into another."""


def _block(lines: list[str], at: int) -> tuple[int, int] | None:
    """The lines ``[at, end)`` of the element that opens on line ``at`` (pretty-printed XML).

    The files are indented one element a line, so an element ends at the first line after
    ``at`` that starts with its closing tag at the same indentation.
    """
    match = _OPENING.match(lines[at])
    if match is None:
        return None
    indent, name = match.groups()
    if lines[at].rstrip().endswith("/>") or f"</{name}>" in lines[at]:
        return at, at + 1
    for end in range(at + 1, len(lines)):
        if lines[end].startswith(f"{indent}</{name}>"):
            return at, end + 1
    return None


def _blocks(lines: list[str]) -> list[tuple[int, int]]:
    return [block for at in range(len(lines)) if (block := _block(lines, at)) is not None]


def _token(rng: np.random.Generator, ids: list[str]) -> str:
    pool = int(rng.integers(3))
    if pool == 0 and ids:
        return str(_choice(rng, ids))
    return str(_choice(rng, ELEMENTS if pool == 1 else WEIRD))


def _replace_match(rng: np.random.Generator, text: str, pattern: re.Pattern, group: int,
                   token: str) -> tuple[str, str]:
    matches = list(pattern.finditer(text))
    if not matches:
        return text, "nothing to replace"
    match = _choice(rng, matches)
    start, end = match.span(group)
    return text[:start] + token + text[end:], f"{match.group(group)!r} -> {token!r} at {start}"


def _mutate(
    rng: np.random.Generator, text: str, donors: list[str]
) -> tuple[str | bytes, str]:
    """One random mutation of ``text``: the new text (bytes for byte flips) and its label.

    Line deletions and duplications come in two kinds: of random lines (the XML breaks), and
    of whole elements (it stays well formed, so the SBML checks and the loader are reached).
    ``donors`` are elements of all seed files, grafted in by one kind of mutation (so rules,
    events and functions of one file meet the species and parameters of another).
    """
    if not text:
        return text, "nothing left to mutate"
    ids = _ID.findall(text)
    lines = text.split("\n")
    kind = int(rng.integers(11))
    if kind == 0:
        data = bytearray(text.encode())
        positions = rng.integers(len(data), size=int(rng.integers(1, 6)))
        for position in positions:  # mostly ASCII to ASCII, so the text stays UTF-8
            data[position] ^= int(rng.integers(1, 256 if rng.random() < 0.2 else 128))
        return bytes(data), f"byte flips at {sorted(int(p) for p in positions)}"
    if kind == 1:
        at = int(rng.integers(len(text)))
        return text[:at], f"truncated to {at} characters"
    if kind in (2, 3):
        at = int(rng.integers(len(lines)))
        end = at + int(rng.integers(1, 4))
        what = "lines"
        if rng.random() < 0.7 and (blocks := _blocks(lines)):
            at, end = _choice(rng, blocks)
            what = "the element on lines"
        if kind == 2:
            return "\n".join(lines[:at] + lines[end:]), f"deleted {what} {at}..{end}"
        copy = lines[at:end]
        return "\n".join(lines[:end] + copy + lines[end:]), f"duplicated {what} {at}..{end}"
    if kind == 4:
        new, label = _replace_match(rng, text, _NUMBER, 0, _token(rng, ids))
        return new, f"number {label}"
    if kind == 5:
        new, label = _replace_match(rng, text, _ATTRIBUTE, 2, _token(rng, ids))
        return new, f"attribute value {label}"
    if kind == 6:  # one tag (the XML breaks)
        new, label = _replace_match(rng, text, _OPENING, 2, str(_choice(rng, ELEMENTS)))
        return new, f"element name {label}"
    tags = sorted({m.group(2) for m in _OPENING.finditer(text)})
    if kind == 7 and tags:  # every tag of one name (the XML stays well formed)
        old = str(_choice(rng, tags))
        name = str(_choice(rng, ELEMENTS))
        new = re.sub(rf"<(/?){re.escape(old)}\b", rf"<\g<1>{name}", text)
        return new, f"every element {old!r} renamed {name!r}"
    if kind == 8:
        at = int(rng.integers(len(lines)))
        donor = int(rng.integers(len(donors)))
        return "\n".join(lines[:at] + [donors[donor]] + lines[at:]), (
            f"inserted donor {donor} before line {at}"
        )
    if kind == 9 and len(ids) >= 2:
        a, b = (str(v) for v in rng.choice(ids, size=2, replace=False))
        swapped = re.sub(
            rf"(?<!\w){re.escape(a)}(?!\w)|(?<!\w){re.escape(b)}(?!\w)",
            lambda m: b if m.group(0) == a else a,
            text,
        )
        return swapped, f"swapped ids {a!r} and {b!r}"
    if ids:  # a reference (in an attribute or in math) to one id made to another
        old, name = (str(v) for v in rng.choice(ids, size=2))
        matches = list(re.finditer(rf"(?<![\w<]){re.escape(old)}(?![\w>])", text))
        match = _choice(rng, matches)
        start, end = match.span()
        return text[:start] + name + text[end:], f"reference {old!r} at {start} -> {name!r}"
    return text, "no ids"


def seed_files() -> dict[str, str]:
    """The files that are mutated: the DSMTS files and a few exported built-in models."""
    texts = {path.name: path.read_text() for path in DSMTS_FILES}
    for name in EXPORTED_MODELS:
        texts[f"to_sbml({name})"] = jx.to_sbml(jx.models.CATALOGUE[name].build())
    return texts


def donor_elements(texts: dict[str, str]) -> list[str]:
    """The elements of all seed files (up to :data:`_LONGEST_BLOCK` lines), sorted."""
    found = set()
    for text in texts.values():
        lines = text.split("\n")
        for at, end in _blocks(lines):
            if end - at <= _LONGEST_BLOCK:
                found.add("\n".join(lines[at:end]))
    return sorted(found)


def sbml_inputs() -> list[SbmlInput]:
    """The mutated seed files of :func:`test_sbml_loader_fuzz`: one to three mutations each."""
    rng = np.random.default_rng(SEED)
    texts = seed_files()
    names = sorted(texts)
    donors = donor_elements(texts)
    inputs = []
    for _ in range(N_SBML):
        name = str(_choice(rng, names))
        current: str | bytes = texts[name]
        steps = []
        for _ in range(int(rng.integers(1, 4))):
            if isinstance(current, bytes):  # byte flips end the chain
                break
            current, label = _mutate(rng, current, donors)
            steps.append(label)
        data = current if isinstance(current, bytes) else current.encode()
        inputs.append(SbmlInput(name, tuple(steps), data))
    return inputs


# ---------------------------------------------------------------------------- the checks
def _escapes(inputs: list, function: Callable, describe: Callable) -> list[str]:
    """Runs ``function`` on every input; describes each that raised anything but ValueError."""
    found = []
    for i, item in enumerate(inputs):
        try:
            function(item)
        except ValueError:
            pass
        except Exception as error:  # noqa: BLE001 - every other exception is the finding
            where = traceback.extract_tb(error.__traceback__)[-1]
            found.append(
                f"#{i} {describe(item)}: {type(error).__name__}: {str(error)[:200]} "
                f"(at {where.filename.rsplit('/', 1)[-1]}:{where.lineno} in {where.name})"
            )
    return found


def test_reaction_parser_fuzz():
    inputs = reaction_inputs()
    assert len(set(inputs)) > N_REACTIONS // 2  # the generator makes varied strings
    escapes = _escapes(inputs, lambda s: jx.Reaction(s, 1.0), lambda s: f"Reaction({s!r}, 1.0)")
    escapes += _escapes(inputs, parse_reaction, lambda s: f"parse_reaction({s!r})")
    assert not escapes, f"{len(escapes)} escapes:\n" + "\n".join(escapes[:50])


@pytest.mark.slow
def test_sbml_loader_fuzz():
    inputs = sbml_inputs()
    loaded = 0

    def load(item: SbmlInput) -> None:
        nonlocal loaded
        jx.load_sbml(item.data)
        loaded += 1

    escapes = _escapes(inputs, load, lambda item: f"{item.source} {'; '.join(item.steps)}")
    assert not escapes, f"{len(escapes)} escapes:\n" + "\n".join(escapes[:50])
    # the mutations are not all fatal: some files still load, most are refused
    assert 0 < loaded < len(inputs)
