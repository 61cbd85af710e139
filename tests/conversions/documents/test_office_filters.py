"""LibreOffice opens each file with the import filter of its sniffed format, never its own guess."""

import shutil

import pytest

from conversions.documents.office import KIND_OF, LOAD_FILTERS, OfficeJob


def test_every_office_source_format_has_its_import_filter():
    assert set(KIND_OF) <= set(LOAD_FILTERS)
    for fmt in KIND_OF:
        assert OfficeJob.plan(f"a.{fmt}", fmt, "b.pdf", "pdf").request()["load_filter"] == LOAD_FILTERS[fmt][0]


@pytest.mark.parametrize("fmt", ["docx", "odt", "rtf", "doc", "xlsx", "ods", "xls", "pptx", "odp", "ppt", "csv", "txt"])
def test_each_pinned_filter_opens_its_own_format(tmp_path, documents, office_bridge, fmt):
    src = tmp_path / f"in.{fmt}"
    shutil.copy(documents[fmt], src)
    reply = office_bridge.convert(OfficeJob.plan(src, fmt, tmp_path / "out.pdf", "pdf").request())
    assert reply["ok"], reply
    assert (tmp_path / "out.pdf").stat().st_size > 0


@pytest.mark.parametrize("content, named", [("rtf", "docx"), ("html", "doc"), ("odt", "docx"), ("xlsx", "ods")])
def test_content_of_another_format_is_not_opened_by_a_guessed_filter(tmp_path, documents, office_bridge, content, named):
    """Unpinned, LibreOffice would detect the real format and convert it; pinned, the load fails."""
    src = tmp_path / f"in.{named}"
    shutil.copy(documents[content], src)
    reply = office_bridge.convert(OfficeJob.plan(src, named, tmp_path / "out.pdf", "pdf").request())
    assert not reply["ok"], reply
    assert not (tmp_path / "out.pdf").exists() or (tmp_path / "out.pdf").stat().st_size == 0


def test_the_bridge_refuses_a_request_without_a_filter(tmp_path, documents, office_bridge):
    src = tmp_path / "in.docx"
    shutil.copy(documents["docx"], src)
    request = {**OfficeJob.plan(src, "docx", tmp_path / "out.pdf", "pdf").request(), "load_filter": ""}
    reply = office_bridge.convert(request)
    assert not reply["ok"] and reply["code"] == "no_filter"
