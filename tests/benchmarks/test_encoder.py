"""benchmarks/encoder.py: MAC counting against hand-computed layers."""

from __future__ import annotations

import torch
from torch import nn

from benchmarks.encoder import conv2d_macs, conv_macs_by_hand, counted_macs, rfft_macs


def test_conv2d_macs_matches_a_hand_count() -> None:
    # 3 -> 4 channels, 3x3 kernel, 5x6 output: 4*5*6 outputs, each a 3*3*3 = 27-term dot product.
    assert conv2d_macs(3, 4, (3, 3), (5, 6)) == 4 * 5 * 6 * 27 == 3240
    # Grouped: each output sees c_in / groups channels.
    assert conv2d_macs(4, 4, (3, 3), (2, 2), groups=2) == 4 * 2 * 2 * 2 * 9


def test_conv_macs_by_hand_reads_output_shapes() -> None:
    net = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1, bias=False),  # (1, 8, 10) -> (2, 8, 10)
        nn.MaxPool2d(2),  # -> (2, 4, 5)
        nn.Conv2d(2, 3, 3, padding=0, bias=False),  # -> (3, 2, 3)
    )
    rows = conv_macs_by_hand(net, torch.zeros(1, 1, 8, 10))
    assert [r["out"] for r in rows] == [(8, 10), (2, 3)]
    assert [r["macs"] for r in rows] == [2 * 8 * 10 * 9, 3 * 2 * 3 * 18]  # 1440, 324


def test_flop_counter_agrees_with_the_hand_count() -> None:
    conv = nn.Conv2d(2, 3, 3, padding=1, bias=False)
    x = torch.zeros(1, 2, 4, 4)
    assert counted_macs(lambda: conv(x)) == {"aten.convolution": 3 * 4 * 4 * 2 * 9}
    lin = nn.Linear(5, 7)
    assert sum(counted_macs(lambda: lin(torch.zeros(1, 5))).values()) == 35


def test_rfft_macs_formula() -> None:
    # N = 8: 1.25 * 8 * 3 = 30 MACs for the FFT, 2 * 5 bins for the power: 40 per frame.
    assert rfft_macs(8, 1) == 40
    assert rfft_macs(8, 3) == 120
