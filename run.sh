#!/usr/bin/env bash
# jumpax developer entry point: installs what is needed into ./.venv, then
#   bash run.sh demo   runs the showcase (`jumpax demo`)
#   bash run.sh test   runs the test suite (what CI runs), one pytest worker per core
# Extra arguments are passed on (to `jumpax demo` or to pytest).
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[test]"
command=${1:-}
shift || true
case "$command" in
    demo)
        exec .venv/bin/jumpax demo "$@"
        ;;
    test)
        status=0
        # One pytest worker per core (pytest-xdist): the suites are compile-bound.
        .venv/bin/python -m pytest -n auto "$@" || status=$?
        if [ "$status" -eq 5 ]; then
            echo "run.sh: pytest collected no tests; failing" >&2
            exit 1
        fi
        exit "$status"
        ;;
    *)
        echo "usage: bash run.sh demo|test [args...]" >&2
        exit 2
        ;;
esac
