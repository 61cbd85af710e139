"""Progress across a conversion and its operations; the vocabulary's catalog."""

import pytest

from conversions.engine.context import ConversionContext
from conversions.models import Job
from filters.vocabulary import FAMILIES, operations
from tests.filters.conftest import pdfinfo

pytestmark = pytest.mark.django_db


def test_progress_spans_map_each_step_into_its_share(tmp_path):
    ctx = ConversionContext(workdir=tmp_path, source_path=tmp_path / "x", source_format="png", target_format="jpg")
    ctx.progress_span = (0, 50)
    ctx.set_progress(100)
    assert ctx.progress == 50
    ctx.progress_span = (50, 100)
    ctx.set_progress(10)
    assert ctx.progress == 55
    ctx.set_progress(5)  # never goes back
    assert ctx.progress == 55
    ctx.set_progress(100)
    assert ctx.progress == 99  # 100 only when the job is stored and finished


def test_convert_image_to_pdf_then_pdf_operations_in_one_job(submit, tmp_path):
    status, out = submit.run("photo.png", [{"op": "rotate", "degrees": 90}, {"op": "watermark", "text": "x"}], "pdf",
                             path="/api/v1/convert", tmp_path=tmp_path)
    assert pdfinfo(out)[:2] == (1, [90])
    job = Job.objects.get(pk=status["jobId"])
    assert job.kind == "convert" and job.family == "media" and job.progress == 100
    assert [e.kind for e in job.events.all()] == ["created", "started", "succeeded"]


def test_every_family_has_operations_and_every_param_describes_itself():
    catalog = operations.catalog()
    assert set(catalog) == set(FAMILIES)
    names = {fam: {op["op"] for op in ops} for fam, ops in catalog.items()}
    assert {"resize", "crop", "rotate", "flip", "grayscale", "blur", "sharpen", "adjust", "watermark",
            "strip_metadata", "compress"} <= names["image"]
    assert {"trim", "volume", "normalize", "fade", "speed", "channels", "sample_rate"} <= names["audio"]
    assert {"trim", "resize", "crop", "rotate", "mute", "speed", "fps", "compress", "watermark", "thumbnail"} <= names["video"]
    assert {"rotate", "pages", "compress", "watermark", "grayscale", "merge", "split"} <= names["pdf"]
    for ops in catalog.values():
        for op in ops:
            assert op["help"], op["op"]
            for param in op["params"]:
                assert param["type"] in ("int", "float", "str", "bool")


def test_operations_endpoint_lists_the_vocabulary(api):
    body = api.get("/api/v1/operations").json()
    assert body["maxOperations"] == 20
    resize = next(op for op in body["families"]["image"] if op["op"] == "resize")
    fit = next(p for p in resize["params"] if p["name"] == "fit")
    assert fit["choices"] == ["contain", "cover", "fill"] and fit["default"] == "contain"
    assert {op["op"] for op in body["families"]["pdf"]} >= {"merge", "split"}
