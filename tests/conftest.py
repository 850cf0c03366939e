"""Test-wide settings."""

import os

import torch

# CI runs `pytest -n 2` on two cores: two workers with two torch threads each oversubscribe
# the cores, and every small op then waits on a descheduled thread (about 10x slower).
# One thread per worker keeps both cores busy without that.
if os.environ.get("PYTEST_XDIST_WORKER"):
    torch.set_num_threads(1)
