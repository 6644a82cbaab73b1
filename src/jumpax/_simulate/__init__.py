"""The one simulation loop, its sharding and the public ``simulate``."""
