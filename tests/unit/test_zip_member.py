"""A zip member inflated by ISA-L (channel_dw.sources._zip_member): zipfile's bytes, and its
verdicts on a damaged member."""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from channel_dw.sources import _zip_member

# A sheet-like member: compressible XML with some noise, several feeds of the deflate stream.
_ROWS = b"".join(
    b'<row r="%d"><c r="A%d" t="s"><v>%d</v></c><c r="B%d"><v>%d.%02d</v></c></row>'
    % (i, i, random.Random(i).randrange(10**6), i, i * 7, i % 100)
    for i in range(1, 60_000)
)


def _workbook(path: Path, members: dict[str, bytes], compression: int) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


@pytest.fixture
def book(tmp_path: Path) -> Path:
    members = {"xl/worksheets/sheet1.xml": _ROWS, "xl/empty.xml": b"", "xl/tiny.xml": b"<a/>"}
    return _workbook(tmp_path / "book.xlsx", members, zipfile.ZIP_DEFLATED)


def test_every_member_reads_as_zipfile_reads_it(book: Path) -> None:
    with zipfile.ZipFile(book) as zf:
        assert zf.getinfo("xl/worksheets/sheet1.xml").compress_size > 3 * (256 << 10)
        for name in zf.namelist():
            assert _zip_member.read(zf, name) == zf.read(name)


@pytest.mark.parametrize("size", [1 << 20, 1000])  # 1000: past the last read of the stream too
@pytest.mark.parametrize("inflate", ["isal", "zlib"])
def test_the_blocks_have_the_sizes_asked_for(
    book: Path, monkeypatch: pytest.MonkeyPatch, size: int, inflate: str
) -> None:
    if inflate == "zlib":
        monkeypatch.setattr(_zip_member, "_inflate", zlib)
    with zipfile.ZipFile(book) as zf:
        blocks = list(_zip_member.blocks(zf, "xl/worksheets/sheet1.xml", size, 100_000))
    assert b"".join(blocks) == _ROWS
    assert [len(b) for b in blocks[:-1]] == [100_000] + [size] * (len(blocks) - 2)
    assert 0 < len(blocks[-1]) <= size


def test_the_pieces_of_a_block_join_into_the_block(book: Path) -> None:
    # The store reader puts the rest of the chunk before in front of a block's pieces, in one
    # copy: the pieces must be the block, in its order.
    with zipfile.ZipFile(book) as zf:
        blocks = list(_zip_member.blocks(zf, "xl/worksheets/sheet1.xml", 1 << 20, 100_000))
        pieces = list(_zip_member.pieces(zf, "xl/worksheets/sheet1.xml", 1 << 20, 100_000))
    assert [b"".join(parts) for parts in pieces] == blocks
    assert max(len(parts) for parts in pieces) > 1  # inflated 256 KiB of the stream at a time


def test_zlib_reads_the_same_where_isal_is_not_installed(
    book: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_zip_member, "_inflate", zlib)
    with zipfile.ZipFile(book) as zf:
        assert _zip_member.read(zf, "xl/worksheets/sheet1.xml") == _ROWS


def test_a_stored_member_and_a_workbook_in_memory_are_read_by_zipfile(tmp_path: Path) -> None:
    stored = _workbook(tmp_path / "stored.xlsx", {"a.xml": _ROWS}, zipfile.ZIP_STORED)
    with zipfile.ZipFile(stored) as zf:
        assert _zip_member.read(zf, "a.xml") == _ROWS
    with zipfile.ZipFile(io.BytesIO(stored.read_bytes())) as zf:
        assert b"".join(_zip_member.blocks(zf, "a.xml", 1 << 16)) == _ROWS


def _damaged(book: Path, change) -> Path:
    """The workbook with the sheet's bytes or directory changed by ``change(data, info)``."""
    data = bytearray(book.read_bytes())
    with zipfile.ZipFile(book) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
    change(data, info)
    book.write_bytes(bytes(data))
    return book


def _data_start(data: bytearray, info: zipfile.ZipInfo) -> int:
    name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
    return info.header_offset + 30 + name_length + extra_length


def _both_fail(book: Path) -> tuple[BaseException, BaseException]:
    """What zipfile raises reading the sheet, and what _zip_member raises."""
    errors = []
    for read in (lambda zf, n: zf.read(n), _zip_member.read):
        with zipfile.ZipFile(book) as zf, pytest.raises(Exception) as raised:
            read(zf, "xl/worksheets/sheet1.xml")
        errors.append(raised.value)
    return errors[0], errors[1]


def _directory_entry(data: bytearray) -> int:
    """Where the sheet's entry in the central directory starts (what zipfile trusts): its name's
    last occurrence is there, the first in the local header."""
    return data.rfind(b"PK\x01\x02", 0, data.rfind(b"xl/worksheets/sheet1.xml"))


def test_a_changed_checksum_fails_as_in_zipfile(book: Path) -> None:
    def change(data: bytearray, info: zipfile.ZipInfo) -> None:
        struct.pack_into("<I", data, _directory_entry(data) + 16, info.CRC ^ 1)

    theirs, ours = _both_fail(_damaged(book, change))
    assert isinstance(theirs, zipfile.BadZipFile)
    assert isinstance(ours, zipfile.BadZipFile)
    assert "Bad CRC-32 for file 'xl/worksheets/sheet1.xml'" in str(ours)


def test_a_damaged_stream_fails(book: Path) -> None:
    def change(data: bytearray, info: zipfile.ZipInfo) -> None:
        middle = _data_start(data, info) + info.compress_size // 2
        data[middle : middle + 64] = bytes(64)

    _, ours = _both_fail(_damaged(book, change))
    assert isinstance(ours, (zipfile.BadZipFile, EOFError, *_zip_member.ERRORS))


def test_a_stream_longer_than_its_stated_size_is_cut_there_and_fails(book: Path) -> None:
    def change(data: bytearray, info: zipfile.ZipInfo) -> None:
        struct.pack_into("<I", data, _directory_entry(data) + 24, info.file_size - 1000)

    theirs, ours = _both_fail(_damaged(book, change))
    assert isinstance(theirs, zipfile.BadZipFile)
    assert isinstance(ours, zipfile.BadZipFile)


def test_a_local_header_that_names_another_member_fails(book: Path) -> None:
    def change(data: bytearray, info: zipfile.ZipInfo) -> None:
        at = info.header_offset + 30
        data[at : at + 2] = b"yl"

    theirs, ours = _both_fail(_damaged(book, change))
    assert isinstance(theirs, zipfile.BadZipFile)
    assert isinstance(ours, zipfile.BadZipFile)
    assert "differ" in str(ours)


def test_a_stream_shorter_than_its_stated_size_fails(book: Path) -> None:
    """zipfile gives the shorter bytes when their checksum holds; the pass does not take them
    (the per-record reader, through zipfile, then reads the workbook)."""

    def change(data: bytearray, info: zipfile.ZipInfo) -> None:
        struct.pack_into("<I", data, _directory_entry(data) + 24, info.file_size + 1000)

    with zipfile.ZipFile(_damaged(book, change)) as zf:
        with pytest.raises(EOFError, match="inflates to less than its stated size"):
            _zip_member.read(zf, "xl/worksheets/sheet1.xml")
