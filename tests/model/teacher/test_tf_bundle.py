"""The TF checkpoint reader against a checkpoint written by TensorFlow 2.21 (fixtures/tiny.*,
made by ``tf.compat.v1.train.Saver``; expected arrays in tiny_expected.npz), against a table
built here by hand (prefix compression, restart points, snappy flag), and on broken input."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from model.teacher.crc32c import crc32c, mask, unmask
from model.teacher.tf_bundle import (
    TABLE_MAGIC,
    MalformedBundleError,
    UnsupportedBundleError,
    read_bundle,
    read_bundle_from_zip,
    read_index,
)

FIXTURES = Path(__file__).parent / "fixtures"
PREFIX = FIXTURES / "tiny"


def expected() -> dict[str, np.ndarray]:
    with np.load(FIXTURES / "tiny_expected.npz") as z:
        return {k.replace("|", "/"): z[k] for k in z.files}


def copy_fixture(tmp_path: Path) -> Path:
    for f in FIXTURES.glob("tiny.*"):
        shutil.copy(f, tmp_path / f.name)
    return tmp_path / "tiny"


# --- CRC-32C ------------------------------------------------------------------------------
@pytest.mark.parametrize(("data", "crc"), [
    (b"123456789", 0xE3069283),
    (bytes(32), 0x8A9136AA),  # RFC 3720 B.4 test vectors
    (b"\xff" * 32, 0x62A8AB43),
    (bytes(range(32)), 0x46DD794E),
    (b"", 0),
])
def test_crc32c_known_values(data: bytes, crc: int) -> None:
    assert crc32c(data) == crc


def test_crc32c_chunked_path_equals_bytewise_definition() -> None:
    data = np.random.default_rng(0).integers(0, 256, 300_007, dtype=np.uint8).tobytes()
    state = 0xFFFFFFFF
    for b in data:  # the definition, one byte at a time
        state ^= b
        for _ in range(8):
            state = (state >> 1) ^ (0x82F63B78 if state & 1 else 0)
    assert crc32c(data) == state ^ 0xFFFFFFFF


def test_mask_round_trips() -> None:
    assert unmask(mask(0x12345678)) == 0x12345678
    assert mask(0) == 0xA282EAD8


# --- a checkpoint written by TensorFlow --------------------------------------------------
def test_reads_every_tensor_tensorflow_wrote() -> None:
    got, want = read_bundle(PREFIX), expected()
    assert sorted(got) == sorted(want)
    for name, value in want.items():
        assert got[name].dtype == value.dtype, name
        assert got[name].shape == value.shape, name
        np.testing.assert_array_equal(got[name], value, err_msg=name)


def test_index_entries_describe_shapes_and_offsets() -> None:
    header, entries = read_index(PREFIX.with_suffix(".index").read_bytes(), source="tiny.index")
    assert header.num_shards == 1 and not header.big_endian
    e = entries["conv2d/kernel"]
    assert (e.shape, e.dtype, e.size, e.shard_id) == ((3, 2, 1, 4), np.dtype("<f4"), 96, 0)
    assert list(entries) == sorted(entries)  # table order
    ends = sorted((x.offset, x.offset + x.size) for x in entries.values())
    assert all(a[1] <= b[0] for a, b in zip(ends, ends[1:], strict=False))  # no overlaps


def test_reads_from_a_zip_member_prefix(tmp_path: Path) -> None:
    wheel = tmp_path / "pkg.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        for f in FIXTURES.glob("tiny.*"):
            z.write(f, f"pkg/ckpt/{f.name}")
    got = read_bundle_from_zip(wheel, "pkg/ckpt/tiny", names=["dense/kernel", "step"])
    assert sorted(got) == ["dense/kernel", "step"]
    np.testing.assert_array_equal(got["dense/kernel"], expected()["dense/kernel"])
    assert got["step"] == 7


def test_zip_without_the_member_names_it(tmp_path: Path) -> None:
    wheel = tmp_path / "pkg.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.write(PREFIX.with_suffix(".index"), "pkg/tiny.index")
    with pytest.raises(MalformedBundleError, match=r"no member 'pkg/tiny\.data-00000-of-00001'"):
        read_bundle_from_zip(wheel, "pkg/tiny")


def test_unknown_variable_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="nope"):
        read_bundle(PREFIX, names=["nope"])


# --- broken input -------------------------------------------------------------------------
def test_truncated_index_is_malformed_and_named(tmp_path: Path) -> None:
    prefix = copy_fixture(tmp_path)
    index = prefix.with_suffix(".index")
    index.write_bytes(index.read_bytes()[:-100])
    with pytest.raises(MalformedBundleError, match=r"tiny\.index: bad table magic") as e:
        read_bundle(prefix)
    assert e.value.source == str(index)
    index.write_bytes(b"\x00" * 20)
    with pytest.raises(MalformedBundleError, match="shorter than the 48-byte table footer"):
        read_bundle(prefix)


def test_wrong_magic_is_refused(tmp_path: Path) -> None:
    prefix = copy_fixture(tmp_path)
    index = prefix.with_suffix(".index")
    data = bytearray(index.read_bytes())
    data[-1] ^= 0xFF
    index.write_bytes(bytes(data))
    with pytest.raises(MalformedBundleError, match="bad table magic 0x24"):
        read_bundle(prefix)


def test_flipped_index_byte_fails_the_block_crc(tmp_path: Path) -> None:
    prefix = copy_fixture(tmp_path)
    index = prefix.with_suffix(".index")
    data = bytearray(index.read_bytes())
    data[10] ^= 0x01
    index.write_bytes(bytes(data))
    with pytest.raises(MalformedBundleError, match="block at 0: CRC-32C mismatch"):
        read_bundle(prefix)


def test_corrupt_tensor_bytes_fail_the_entry_crc(tmp_path: Path) -> None:
    prefix = copy_fixture(tmp_path)
    _, entries = read_index(prefix.with_suffix(".index").read_bytes(), source="x")
    shard = Path(f"{prefix}.data-00000-of-00001")
    data = bytearray(shard.read_bytes())
    data[entries["conv2d/bias"].offset] ^= 0x40
    shard.write_bytes(bytes(data))
    with pytest.raises(MalformedBundleError, match="'conv2d/bias': CRC-32C mismatch"):
        read_bundle(prefix, names=["conv2d/bias"])
    np.testing.assert_array_equal(read_bundle(prefix, names=["step"])["step"], 7)


def test_truncated_data_shard_is_reported(tmp_path: Path) -> None:
    prefix = copy_fixture(tmp_path)
    shard = Path(f"{prefix}.data-00000-of-00001")
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.raises(MalformedBundleError, match=r"lie past the end \(100\)") as e:
        read_bundle(prefix)
    assert e.value.source.endswith("tiny.data-00000-of-00001")


def test_missing_shard_is_an_os_error(tmp_path: Path) -> None:
    prefix = copy_fixture(tmp_path)
    os.remove(f"{prefix}.data-00000-of-00001")
    with pytest.raises(FileNotFoundError):
        read_bundle(prefix)


# --- a table built by hand ----------------------------------------------------------------
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _block(items: list[tuple[bytes, bytes]], restart_every: int) -> bytes:
    body, restarts, prev = bytearray(), [], b""
    for i, (key, value) in enumerate(items):
        shared = 0
        if i % restart_every == 0:
            restarts.append(len(body))
        else:
            while shared < min(len(key), len(prev)) and key[shared] == prev[shared]:
                shared += 1
        body += _varint(shared) + _varint(len(key) - shared) + _varint(len(value))
        body += key[shared:] + value
        prev = key
    for r in restarts:
        body += r.to_bytes(4, "little")
    return bytes(body + len(restarts).to_bytes(4, "little"))


def _trailer(contents: bytes, kind: int = 0) -> bytes:
    return bytes([kind]) + mask(crc32c(contents + bytes([kind]))).to_bytes(4, "little")


def _entry(offset: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    dims = b"".join(b"\x12" + _varint(len(d)) + d for d in (b"\x08" + _varint(n) for n in shape))
    crc = mask(crc32c(payload)).to_bytes(4, "little")
    return (b"\x08\x01\x12" + _varint(len(dims)) + dims + b"\x20" + _varint(offset) + b"\x28"
            + _varint(len(payload)) + b"\x35" + crc)


def _table(items: list[tuple[bytes, bytes]], kind: int = 0) -> bytes:
    data = _block(items, restart_every=3)
    index = _block([(items[-1][0], _varint(0) + _varint(len(data)))], restart_every=1)
    out = data + _trailer(data, kind)
    index_at = len(out)
    out += index + _trailer(index)
    handles = _varint(0) + _varint(0) + _varint(index_at) + _varint(len(index))
    return out + handles.ljust(40, b"\x00") + TABLE_MAGIC.to_bytes(8, "little")


def _hand_made(tmp_path: Path, kind: int = 0) -> tuple[Path, dict[str, np.ndarray]]:
    arrays = {f"net/block_{i}/w": np.arange(i, i + 4, dtype=np.float32) for i in range(7)}
    shard, items = b"", [(b"", b"\x08\x01")]  # header: one shard, little-endian
    for name, a in sorted(arrays.items()):
        items.append((name.encode(), _entry(len(shard), a.shape, a.tobytes())))
        shard += a.tobytes()
    prefix = tmp_path / "hand"
    Path(f"{prefix}.index").write_bytes(_table(items, kind))
    Path(f"{prefix}.data-00000-of-00001").write_bytes(shard)
    return prefix, arrays


def test_hand_made_table_with_prefix_compressed_keys_and_restarts(tmp_path: Path) -> None:
    prefix, arrays = _hand_made(tmp_path)
    got = read_bundle(prefix)
    assert sorted(got) == sorted(arrays)
    for name, a in arrays.items():
        np.testing.assert_array_equal(got[name], a)


def test_snappy_block_is_refused_by_name(tmp_path: Path) -> None:
    prefix, _ = _hand_made(tmp_path, kind=1)
    with pytest.raises(UnsupportedBundleError, match="block at 0 is snappy-compressed"):
        read_bundle(prefix)
