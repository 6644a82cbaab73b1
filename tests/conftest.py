"""Test-session setup.

The test workers (pytest-xdist) already use every core, so each simulates on one CPU device:
jumpax's default of one device per core (:mod:`jumpax._devices`) is tested by
``test_devices.py`` and sharded ensembles by ``test_sharding.py``, in their own processes.
"""

import os

os.environ.setdefault("JUMPAX_CPU_DEVICES", "1")
