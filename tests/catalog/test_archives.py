"""Archives: traversal, links, bombs and entry floods are refused before anything is unpacked."""

import io
import tarfile

import pytest

from conversions.errors import ConversionFailed

from .builders import ARCHIVE_FILES, archive_contents, as_bytes, make_archive
from .helpers import api_convert, convert


def _tar(path, members, mode="w:gz"):
    """members: (TarInfo, bytes or None)."""
    with tarfile.open(path, mode) as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name, data=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _refused(tmp_path, path, target="zip"):
    with pytest.raises(ConversionFailed) as err:
        convert(path, target, tmp_path / "work")
    assert not (tmp_path / "work" / "unpacked").exists() or not any((tmp_path / "work" / "unpacked").iterdir())
    return err.value


@pytest.mark.parametrize("name", ["../../evil.txt", "/etc/evil.txt", "a/../../evil.txt"])
def test_a_name_that_climbs_out_is_refused_before_unpacking(tmp_path, name):
    src = _tar(tmp_path / "evil.tgz", [_file("ok.txt"), _file(name)])
    err = _refused(tmp_path, src)
    assert err.code == "archive_bad_path"
    assert not (tmp_path / "evil.txt").exists()


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.FIFOTYPE, tarfile.CHRTYPE])
def test_links_and_special_files_are_refused(tmp_path, kind):
    info = tarfile.TarInfo("link")
    info.type = kind
    info.linkname = "/etc/passwd"
    src = _tar(tmp_path / "links.tar", [_file("ok.txt"), (info, None)], mode="w")
    assert _refused(tmp_path, src, "7z").code == "archive_bad_path"


def test_a_gzip_bomb_is_refused_from_its_listing(tmp_path):
    src = _tar(tmp_path / "bomb.tgz", [_file("zeros.bin", bytes(8 * 2**20))])
    err = _refused(tmp_path, src)
    assert err.code == "archive_ratio" and "not opened" in str(err)


def test_an_archive_over_the_size_limit_is_refused(tmp_path, settings):
    settings.ARCHIVE_MAX_UNCOMPRESSED_MB = 1
    src = _tar(tmp_path / "big.tar", [_file("a.bin", bytes(600_000)), _file("b.bin", bytes(600_000))], mode="w")
    assert _refused(tmp_path, src, "tgz").code == "archive_too_large"


def test_an_entry_flood_is_refused(tmp_path, settings):
    settings.ARCHIVE_MAX_ENTRIES = 50
    src = _tar(tmp_path / "flood.txz", [_file(f"f{i}.txt") for i in range(60)], mode="w:xz")
    assert _refused(tmp_path, src).code == "archive_too_many_entries"


def test_a_zip_with_a_traversal_name_is_refused(tmp_path):
    import zipfile

    src = tmp_path / "evil.zip"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("../evil.txt", "x")
    assert _refused(tmp_path, src, "tgz").code == "archive_bad_path"


def test_file_names_with_spaces_and_folders_survive(tmp_path):
    files = {"my notes/a heron.txt": "grey\n", "b.txt": "b\n"}
    src = make_archive(tmp_path / "spaces.7z", "7z", files)
    out, _ = convert(src, "tbz2", tmp_path / "work")
    assert archive_contents(out) == as_bytes(files)


@pytest.mark.django_db
def test_a_tar_gz_upload_becomes_a_zip_through_the_api(api, run_jobs, tmp_path):
    src = make_archive(tmp_path / "backup.tar.gz", "tgz")
    status, data = api_convert(api, run_jobs, "backup.tar.gz", src.read_bytes(), "zip")
    assert status["status"] == "succeeded", status
    assert status["result"]["filename"].endswith(".zip")
    out = tmp_path / "out.zip"
    out.write_bytes(data)
    assert archive_contents(out) == as_bytes(ARCHIVE_FILES)
