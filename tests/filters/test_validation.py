"""Every operation is validated before a job exists: 400 naming the operation and the field."""

import json

import pytest

from conversions.models import Job
from tests.builders import image_bytes, upload

pytestmark = pytest.mark.django_db


def error(resp):
    assert resp.status_code == 400, resp.content
    body = resp.json()
    assert set(body) == {"error"}
    return body["error"]["code"], body["error"]["message"]


def nothing_created():
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "name, ops, code, words",
    [
        ("photo.jpg", "{not json", "invalid_operations", ["valid JSON"]),
        ("photo.jpg", "42", "invalid_operations", ["list"]),
        ("photo.jpg", json.dumps([{"op": "grayscale"}] * 21), "invalid_operations", ["At most 20"]),
        ("photo.jpg", "[]", "missing_operations", ["'operations' is required"]),
        ("photo.jpg", '["grayscale"]', "invalid_operation", ["operation 1", "'op'"]),
        ("photo.jpg", '[{"width": 3}]', "invalid_operation", ["operation 1", "'op'"]),
        ("photo.jpg", '[{"op": "explode"}]', "invalid_operation", ["operation 1 (explode)", "unknown operation", "resize"]),
        ("photo.jpg", '[{"op": "grayscale"}, {"op": "trim", "start": 1}]', "invalid_operation",
         ["operation 2 (trim)", "does not apply to image", "audio, video"]),
        ("tone.wav", '[{"op": "grayscale"}]', "invalid_operation", ["operation 1 (grayscale)", "audio", "image, pdf"]),
        ("clip.mp4", '[{"op": "split"}]', "invalid_operation", ["operation 1 (split)", "pdf"]),
        ("photo.jpg", '[{"op": "resize", "width": 100, "colour": "red"}]', "invalid_operation",
         ["operation 1 (resize)", "unknown parameter 'colour'", "width, height, fit, upscale"]),
        ("photo.jpg", '[{"op": "crop", "height": 10}]', "invalid_operation", ["operation 1 (crop)", "'width' is required"]),
        ("photo.jpg", '[{"op": "resize", "width": 0}]', "invalid_operation", ["operation 1 (resize)", "'width'", "between 1 and 10000"]),
        ("photo.jpg", '[{"op": "resize", "width": 20000}]', "invalid_operation", ["(resize)", "'width'", "between"]),
        ("photo.jpg", '[{"op": "resize", "width": "wide"}]', "invalid_operation", ["(resize)", "'width'", "whole number"]),
        ("photo.jpg", '[{"op": "resize", "width": 10.5}]', "invalid_operation", ["(resize)", "'width'", "whole number"]),
        ("photo.jpg", '[{"op": "resize", "width": NaN}]', "invalid_operation", ["(resize)", "'width'", "finite"]),
        ("photo.jpg", '[{"op": "blur", "sigma": "inf"}]', "invalid_operation", ["(blur)", "'sigma'", "finite"]),
        ("photo.jpg", '[{"op": "resize", "width": 10, "upscale": "yes"}]', "invalid_operation", ["(resize)", "'upscale'", "true or false"]),
        ("photo.jpg", '[{"op": "resize", "width": 10, "fit": "stretch"}]', "invalid_operation", ["(resize)", "'fit'", "contain, cover, fill"]),
        ("photo.jpg", '[{"op": "resize"}]', "invalid_operation", ["(resize)", "'width' or 'height'"]),
        ("photo.jpg", '[{"op": "resize", "width": 10, "fit": "cover"}]', "invalid_operation", ["(resize)", "'fit' cover", "both"]),
        ("photo.jpg", '[{"op": "blur", "sigma": 500}]', "invalid_operation", ["(blur)", "'sigma'"]),
        ("photo.jpg", '[{"op": "rotate"}]', "invalid_operation", ["(rotate)", "'degrees' is required"]),
        ("photo.jpg", '[{"op": "flip", "direction": "diagonal"}]', "invalid_operation", ["(flip)", "'direction'"]),
        ("photo.jpg", '[{"op": "adjust"}]', "invalid_operation", ["(adjust)", "brightness"]),
        ("photo.jpg", '[{"op": "adjust", "contrast": -1}]', "invalid_operation", ["(adjust)", "'contrast'"]),
        ("photo.jpg", '[{"op": "watermark"}]', "invalid_operation", ["(watermark)", "'text' is required"]),
        ("photo.jpg", '[{"op": "watermark", "text": "a", "opacity": 2}]', "invalid_operation", ["(watermark)", "'opacity'"]),
        ("photo.jpg", '[{"op": "watermark", "text": "a", "position": "middle"}]', "invalid_operation", ["(watermark)", "'position'"]),
        ("photo.jpg", '[{"op": "watermark", "text": "a\\u0000b"}]', "invalid_operation", ["(watermark)", "'text'", "control"]),
        ("photo.jpg", '[{"op": "compress"}]', "invalid_operation", ["(compress)", "'quality' or 'max_bytes'"]),
        ("photo.jpg", '[{"op": "compress", "quality": 50, "max_bytes": 5000}]', "invalid_operation", ["(compress)", "exactly one"]),
        ("photo.jpg", '[{"op": "compress", "quality": 0}]', "invalid_operation", ["(compress)", "'quality'"]),
        ("photo.jpg", '[{"op": "compress", "max_bytes": 10}]', "invalid_operation", ["(compress)", "'max_bytes'"]),
        ("tone.wav", '[{"op": "trim", "start": 3, "end": 2}]', "invalid_operation", ["(trim)", "'end'", "after 'start'"]),
        ("tone.wav", '[{"op": "trim", "start": -1}]', "invalid_operation", ["(trim)", "'start'"]),
        ("tone.wav", '[{"op": "volume"}]', "invalid_operation", ["(volume)", "'db' is required"]),
        ("tone.wav", '[{"op": "volume", "db": 100}]', "invalid_operation", ["(volume)", "'db'", "between -60 and 60"]),
        ("tone.wav", '[{"op": "normalize", "target": 0}]', "invalid_operation", ["(normalize)", "'target'"]),
        ("tone.wav", '[{"op": "fade"}]', "invalid_operation", ["(fade)", "'in'", "'out'"]),
        ("tone.wav", '[{"op": "speed", "factor": 10}]', "invalid_operation", ["(speed)", "'factor'", "between 0.25 and 4"]),
        ("tone.wav", '[{"op": "channels", "count": 3}]', "invalid_operation", ["(channels)", "'count'", "1, 2, 6"]),
        ("tone.wav", '[{"op": "sample_rate", "hz": 12345}]', "invalid_operation", ["(sample_rate)", "'hz'", "44100"]),
        ("clip.mp4", '[{"op": "fps", "value": 0}]', "invalid_operation", ["(fps)", "'value'"]),
        ("clip.mp4", '[{"op": "rotate", "degrees": 45}]', "invalid_operation", ["(rotate)", "'degrees'", "90"]),
        ("clip.mp4", '[{"op": "compress", "crf": 99}]', "invalid_operation", ["(compress)", "'crf'"]),
        ("clip.mp4", '[{"op": "thumbnail", "at": 1}, {"op": "mute"}]', "invalid_operation", ["operation 1 (thumbnail)", "last"]),
        ("doc.pdf", '[{"op": "split"}, {"op": "grayscale"}]', "invalid_operation", ["operation 1 (split)", "last"]),
        ("doc.pdf", '[{"op": "pages"}]', "invalid_operation", ["(pages)", "'select' is required"]),
        ("doc.pdf", '[{"op": "pages", "select": "1-x"}]', "invalid_operation", ["(pages)", "'select'", "1-3,5"]),
        ("doc.pdf", '[{"op": "pages", "select": "0-2"}]', "invalid_operation", ["(pages)", "'select'", "start at 1"]),
        ("doc.pdf", '[{"op": "rotate", "degrees": 90, "pages": "a"}]', "invalid_operation", ["(rotate)", "'pages'"]),
        ("doc.pdf", '[{"op": "compress", "preset": "tiny"}]', "invalid_operation", ["(compress)", "'preset'", "screen, ebook, printer"]),
        ("doc.pdf", '[{"op": "merge"}]', "invalid_operation", ["'merge' needs at least two"]),
    ],
)
def test_invalid_operations_are_400_naming_the_operation_and_field(submit, name, ops, code, words):
    resp = submit.post(name, ops)
    got_code, message = error(resp)
    assert got_code == code, message
    for word in words:
        assert word in message, (word, message)
    nothing_created()


def test_merge_must_come_first(submit):
    code, message = error(submit.post(["doc.pdf", "other.pdf"], [{"op": "grayscale"}, {"op": "merge"}]))
    assert "operation 2 (merge)" in message and "first" in message
    nothing_created()


def test_several_files_without_merge(submit):
    code, message = error(submit.post(["doc.pdf", "other.pdf"], [{"op": "grayscale"}]))
    assert code == "invalid_operations" and "merge" in message
    nothing_created()


def test_files_of_different_kinds(submit):
    code, message = error(submit.post(["doc.pdf", "photo.jpg"], [{"op": "merge"}]))
    assert code == "mixed_files"
    nothing_created()


def test_missing_file_and_missing_operations(api, submit):
    code, _ = error(api.post("/api/v1/filter", {"operations": '[{"op": "grayscale"}]'}, format="multipart"))
    assert code == "missing_file"
    code, message = error(submit.post("photo.jpg", None))
    assert code == "missing_operations" and "operations" in message
    nothing_created()


@pytest.mark.parametrize("target, words", [("mp3", ["cannot write mp3", "png", "webp"]), ("nonsense", ["Unknown targetFormat"])])
def test_target_the_family_cannot_write(submit, target, words):
    code, message = error(submit.post("photo.jpg", [{"op": "grayscale"}], target))
    assert code == "unsupported_conversion"
    for word in words:
        assert word in message
    nothing_created()


@pytest.mark.parametrize("path", ["/api/v1/filter", "/api/v1/convert"])
@pytest.mark.parametrize("wait", ["61", "-1", "soon"])
def test_wait_out_of_range_is_400(api, path, wait):
    data = {"file": upload("p.png", image_bytes()), "operations": '[{"op": "grayscale"}]', "targetFormat": "webp"}
    code, message = error(api.post(f"{path}?wait={wait}", data, format="multipart"))
    assert code == "invalid_wait" and "60" in message
    nothing_created()


def test_convert_validates_operations_against_the_target_family(api):
    data = {"file": upload("p.png", image_bytes()), "targetFormat": "webp", "operations": '[{"op": "trim", "start": 1}]'}
    code, message = error(api.post("/api/v1/convert", data, format="multipart"))
    assert code == "invalid_operation" and "operation 1 (trim)" in message and "image" in message
    data.update(file=upload("p.png", image_bytes()), operations='[{"op": "resize", "width": -4}]')
    code, message = error(api.post("/api/v1/convert", data, format="multipart"))
    assert "operation 1 (resize)" in message and "'width'" in message
    nothing_created()


def test_unsupported_source_for_filters_is_415(submit, samples):
    (samples / "notes.txt").write_text("just text\n" * 20)
    resp = submit.post("notes.txt", [{"op": "grayscale"}])
    assert resp.status_code == 415
    nothing_created()
