"""Data: trees that are no table say so, XML and YAML bombs are refused, one upload through the API."""

import json
import zipfile

import pytest

from conversions.errors import ConversionFailed

from .builders import RECORDS
from .helpers import api_convert, convert


def _fails(tmp_path, name, text, target):
    src = tmp_path / name
    src.write_text(text)
    with pytest.raises(ConversionFailed) as err:
        convert(src, target, tmp_path / "work")
    return err.value


def test_a_list_inside_a_record_cannot_become_a_csv_cell(tmp_path):
    err = _fails(tmp_path, "nested.json", json.dumps([{"name": "heron", "tags": ["grey", "tall"]}]), "csv")
    assert err.code == "data_not_tabular"
    assert "Record 1" in str(err) and "'tags'" in str(err)


def test_a_scalar_tree_has_no_rows(tmp_path):
    err = _fails(tmp_path, "one.yaml", "just a sentence\n", "xlsx")
    assert err.code == "data_not_tabular"


def test_nested_objects_flatten_to_dotted_columns(tmp_path):
    src = tmp_path / "birds.json"
    src.write_text(json.dumps([{"name": "heron", "size": {"cm": 95, "kg": 1.5}}]))
    out, _ = convert(src, "csv", tmp_path / "work")
    assert out.read_text() == "name,size.cm,size.kg\nheron,95,1.5\n"


def test_xml_billion_laughs_is_refused_without_expanding(tmp_path):
    laughs = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">' for i in range(1, 10)
    ) + "]><lolz>&lol9;</lolz>"
    err = _fails(tmp_path, "laughs.xml", laughs, "json")
    assert err.code == "invalid_data" and "could not be parsed" in str(err)


def test_xml_external_entities_are_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("do-not-leak")
    xxe = f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]><r>&x;</r>'
    err = _fails(tmp_path, "xxe.xml", xxe, "json")
    assert err.code == "invalid_data" and "do-not-leak" not in str(err)


def test_a_yaml_alias_bomb_is_refused_before_it_is_written_out(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    err = _fails(tmp_path, "bomb.yaml", "\n".join(lines) + "\n", "json")
    assert err.code == "data_too_large"


def test_json_nested_a_hundred_thousand_deep_fails_clearly(tmp_path):
    err = _fails(tmp_path, "deep.json", "[" * 100_000 + "]" * 100_000, "yaml")
    assert err.code == "invalid_data"


def test_a_toml_null_in_a_list_is_named(tmp_path):
    err = _fails(tmp_path, "nulls.json", json.dumps({"values": [1, None, 3]}), "toml")
    assert err.code == "data_not_representable" and "'values'" in str(err)


def test_text_that_looks_like_a_formula_stays_text_in_xlsx(tmp_path):
    from openpyxl import load_workbook

    src = tmp_path / "evil.json"
    src.write_text(json.dumps([{"name": "heron", "note": '=HYPERLINK("http://example.invalid","x")'}]))
    out, _ = convert(src, "xlsx", tmp_path / "work")
    ws = load_workbook(out).worksheets[0]
    assert ws["B2"].data_type == "s" and ws["B2"].value.startswith("=HYPERLINK")


def test_an_xlsx_zip_bomb_is_refused_before_the_child_runs(tmp_path):
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"\0" * (600 * 2**20))
    with pytest.raises(ConversionFailed) as err:
        convert(bomb, "json", tmp_path / "work")
    assert err.value.code in ("archive_too_large", "archive_ratio")


@pytest.mark.django_db
def test_a_yaml_upload_becomes_csv_through_the_api(api, run_jobs):
    import yaml

    status, data = api_convert(api, run_jobs, "birds.yml", yaml.safe_dump({"birds": RECORDS}, sort_keys=False).encode(), "csv")
    assert status["status"] == "succeeded", status
    assert status["result"]["filename"] == "birds.csv"
    assert data.decode().splitlines() == ["name,count,price", "heron,3,1.5", "crane,7,2.25", "stork,11,4"]
