"""jumpax asks JAX for one CPU device per core on import, unless told otherwise."""

import os
import pathlib
import subprocess
import sys

import jumpax as jx
from jumpax._devices import available_cores

SRC = pathlib.Path(jx.__file__).parents[1]


def _devices_after_import(prelude: str = "", **variables: str) -> str:
    """``jax.device_count()`` and what jumpax chose, in a fresh interpreter."""
    env = {k: v for k, v in os.environ.items() if k not in ("JUMPAX_CPU_DEVICES", "XLA_FLAGS")}
    env.update(variables, PYTHONPATH=os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")]))
    script = f"{prelude}\nimport jax, jumpax\nprint(jax.device_count(), jumpax._devices.CHOSEN)"
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 or "JUMPAX_CPU_DEVICES" in done.stderr, done.stderr
    return done.stdout.strip() if done.returncode == 0 else done.stderr.strip().splitlines()[-1]


def test_one_device_per_core_by_default():
    cores = available_cores()
    assert _devices_after_import() == f"{cores} {cores}"


def test_the_environment_variable_sets_the_count_and_1_opts_out():
    assert _devices_after_import(JUMPAX_CPU_DEVICES="1") == "1 1"
    assert _devices_after_import(JUMPAX_CPU_DEVICES="3") == "3 3"


def test_a_bad_count_is_refused_by_name():
    message = _devices_after_import(JUMPAX_CPU_DEVICES="two")
    assert message == "ValueError: JUMPAX_CPU_DEVICES must be a positive integer, got 'two'"


def test_xla_flags_and_jax_setting_stand():
    flags = "--xla_force_host_platform_device_count=3"
    assert _devices_after_import(XLA_FLAGS=flags, JUMPAX_CPU_DEVICES="1") == "3 None"
    prelude = "import jax; jax.config.update('jax_num_cpu_devices', 3)"
    assert _devices_after_import(prelude) == "3 None"


def test_a_started_backend_keeps_its_devices():
    prelude = "import jax; jax.numpy.ones(2).block_until_ready()"
    assert _devices_after_import(prelude) == "1 None"
