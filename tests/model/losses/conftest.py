"""Shared fixtures for the loss tests: the device (``MUSICPRISM_TEST_DEVICE``, CPU by
default) and per-dtype tolerances."""

from __future__ import annotations

import os

import pytest
import torch

DTYPES = [torch.float16, torch.float32, torch.float64]
# loose for float16 (a 10-bit mantissa), tight for float64
TOL = {torch.float16: 5e-3, torch.float32: 1e-6, torch.float64: 1e-10}


@pytest.fixture(scope="session")
def device() -> torch.device:
    return torch.device(os.environ.get("MUSICPRISM_TEST_DEVICE", "cpu"))


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)
