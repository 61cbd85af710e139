"""Direct S3 transfers on the job path, against the S3 server (moto on loopback)."""

import pytest

from conversions.files import s3io
from conversions.files import storage
from tests.builders import upload

pytestmark = pytest.mark.services


def test_small_file_is_one_put_with_its_content_type_and_fetches_back(s3_storages, tmp_path):
    client, bucket = s3_storages
    src = tmp_path / "result.webp"
    src.write_bytes(b"RIFF0000WEBPVP8 " + b"x" * 100)

    assert storage.save_file(storage.outputs(), "outputs/j1/result.webp", src) == "outputs/j1/result.webp"
    head = client.head_object(Bucket=bucket, Key="outputs/j1/result.webp")
    assert head["ContentType"] == "image/webp"
    assert head["ContentLength"] == src.stat().st_size

    dest = storage.fetch_to(storage.outputs(), "outputs/j1/result.webp", tmp_path / "back.webp")
    assert dest.read_bytes() == src.read_bytes()


def test_large_file_goes_multipart_from_disk(s3_storages, tmp_path, monkeypatch):
    client, bucket = s3_storages
    monkeypatch.setattr(s3io, "SINGLE_PUT_BYTES", 1024)
    src = tmp_path / "big.bin"
    src.write_bytes(bytes(range(256)) * 40_000)  # 10 MB: two 8 MB parts

    storage.save_file(storage.uploads(), "uploads/j2/source.bin", src)
    assert client.head_object(Bucket=bucket, Key="uploads/j2/source.bin")["ContentLength"] == src.stat().st_size
    back = storage.fetch_to(storage.uploads(), "uploads/j2/source.bin", tmp_path / "back.bin")
    assert back.read_bytes() == src.read_bytes()


def test_uploaded_temporary_file_is_sent_from_its_path(s3_storages, tmp_path, settings):
    client, bucket = s3_storages
    from django.core.files.uploadedfile import TemporaryUploadedFile

    tmp = TemporaryUploadedFile("photo.png", "image/png", 5, "utf-8")
    tmp.write(b"\x89PNG!")
    tmp.flush()
    storage.save_file(storage.uploads(), "uploads/j3/source.png", tmp)
    assert client.get_object(Bucket=bucket, Key="uploads/j3/source.png")["Body"].read() == b"\x89PNG!"


def test_in_memory_file_falls_back_to_the_storage(s3_storages):
    client, bucket = s3_storages
    storage.save_file(storage.uploads(), "uploads/j4/source.png", upload("a.png", b"abc"))
    assert client.get_object(Bucket=bucket, Key="uploads/j4/source.png")["Body"].read() == b"abc"


def test_missing_object_is_file_not_found(s3_storages, tmp_path):
    with pytest.raises(FileNotFoundError):
        storage.fetch_to(storage.uploads(), "uploads/nope/source.png", tmp_path / "x")
