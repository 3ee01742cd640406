"""service.api.ranges: Range headers parsed as RFC 9110 section 14 says."""

from __future__ import annotations

import pytest

from service.api.ranges import MAX_RANGES, RangeNotSatisfiable, content_range, merge, parse_range

SIZE = 1000


@pytest.mark.parametrize(
    "header, expected",
    [
        ("bytes=0-99", [(0, 100)]),
        ("bytes=0-0", [(0, 1)]),
        ("bytes=900-", [(900, 1000)]),
        ("bytes=-100", [(900, 1000)]),
        ("bytes=-5000", [(0, 1000)]),  # a suffix longer than the file is the whole file
        ("bytes=990-5000", [(990, 1000)]),  # the last byte is clipped to the end
        ("BYTES = 0-9", [(0, 10)]),  # the unit is case-insensitive
        ("bytes=0-9, 20-29", [(0, 10), (20, 30)]),
        ("bytes=20-29,0-9", [(0, 10), (20, 30)]),  # sorted
        ("bytes=0-9,5-19", [(0, 20)]),  # overlapping: merged
        ("bytes=0-9,10-19", [(0, 20)]),  # adjacent: merged
        ("bytes=0-9,,20-29,", [(0, 10), (20, 30)]),  # empty list elements are ignored
        ("bytes=0-9,2000-", [(0, 10)]),  # a range past the end is dropped
    ],
)
def test_satisfiable_ranges(header: str, expected: list[tuple[int, int]]) -> None:
    assert parse_range(header, SIZE) == expected


@pytest.mark.parametrize(
    "header",
    [
        None,
        "bytes=abc",
        "bytes=5-3",  # last before first: the whole header is invalid
        "bytes=0-9,x",  # one bad spec invalidates the rest
        "bytes=-",
        "bytes=",
        "bytes=+1-2",
        "bytes=0x10-20",
        "items=0-9",  # another unit
        "0-9",
        "bytes=" + ",".join(f"{i * 10}-{i * 10 + 1}" for i in range(MAX_RANGES + 1)),
    ],
)
def test_headers_to_ignore_ask_for_the_whole_file(header: str | None) -> None:
    assert parse_range(header, SIZE) is None


@pytest.mark.parametrize(
    "header", ["bytes=1000-", "bytes=1000-1001", "bytes=-0", "bytes=5000-,2000-"]
)
def test_no_range_inside_the_file_is_unsatisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable) as info:
        parse_range(header, SIZE)
    assert info.value.size == SIZE
    assert str(info.value) == f"range {header!r} is not satisfiable: the audio is 1000 bytes"


def test_an_empty_file_satisfies_no_range() -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=-10", 0)


def test_merge_and_content_range() -> None:
    assert merge([(5, 6), (0, 2), (1, 3)]) == [(0, 3), (5, 6)]
    assert content_range(0, 100, 1000) == "bytes 0-99/1000"
