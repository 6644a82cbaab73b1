"""A fixed sample of the SBML Test Suite's semantic cases, by the suite's rule (slow).

152 cases (every sixth, see ``sbml_suite.sample_cases``) are loaded and solved by the
reaction-rate ODE and compared with the reference time courses. Every case must pass, except
the ones listed below, which must be refused with a ``ValueError`` naming the element: no
wrong number and no crash. ``python tests/sbml_suite.py`` runs all 911 cases.
"""

import pytest
from sbml_suite import reference, run_case, sample_cases

REFUSED = {
    "00541": "algebraic rules",
    "00553": "algebraic rules",
    "00565": "algebraic rules",
    "00613": "algebraic rules",
    "00661": "algebraic rules",
    "00673": "algebraic rules",
    "01501": "algebraic rules",
    "01789": "algebraic rules",
    "00937": "'delay' is not supported",
    "00985": "'delay' is not supported",
    "01417": "'delay' is not supported",
    "01537": "'delay' is not supported",
    "01165": "cannot flatten the hierarchical",
    "01477": "cannot flatten the hierarchical",
    "01549": "reaction 'J0' is fast",
    "01813": "NaN constants",
}
"""Sample cases jumpax refuses, with what the refusal names. libroadrunner refuses all of
them too (algebraic rules, ``delay``, fast reactions, models it cannot flatten) except 01813,
whose parameters are NaN on purpose."""


@pytest.mark.slow
@pytest.mark.parametrize("case", sample_cases())
def test_sbml_test_suite_case(case):
    outcome = run_case(case)
    if reference()[case] == "NOT-TIME-COURSE":
        assert outcome.status == "NOT-TIME-COURSE"
    elif case in REFUSED:
        assert outcome.status == "REFUSED", outcome
        assert REFUSED[case] in outcome.detail, outcome
    else:
        assert outcome.status == "PASS", outcome


ONCE_WRONG = {
    "00965": "equal priorities in random order",
    "01591": "equal priorities in random order",
    "01599": "equal priorities in random order",
    "01605": "equal priorities in random order",
    "01627": "equal priorities in random order",
    "01121": "a stoichiometry reading a global parameter that a local one shadows",
    "01581": "a trigger true for less than the output interval",
    "01261": "a trigger level that stays within rounding of its threshold",
    "01293": "a trigger level that stays within rounding of its threshold",
}
"""Cases outside the sample that jumpax once got wrong, and what they test."""


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(ONCE_WRONG))
def test_sbml_test_suite_case_once_wrong(case):
    outcome = run_case(case)
    assert outcome.status == "PASS", (ONCE_WRONG[case], outcome)


def test_the_sample_is_spread_over_the_suite_and_the_refusals_are_in_it():
    cases = sample_cases()
    assert len(cases) == 152 and cases[0] == "00001" and cases[-1] > "01800"
    assert set(REFUSED) <= set(cases)
    assert all(reference()[case] != "PASS" for case in REFUSED if case != "01813")
