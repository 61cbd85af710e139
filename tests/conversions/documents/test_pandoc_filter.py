"""pandoc in one run: reader, our Lua cleaning filters (clean.lua, drop_raw.lua), writer (issue 12).

The filters replaced a Python pass over the JSON tree between two pandoc
runs; these tests hold them to what that pass did, on a document that uses
every place markdown can name a resource. The hostile corpus
(test_markup_hostile.py) holds the outputs to the same through every pair.
"""

import base64
import json

import pytest

from conversions.documents import pandoc
from conversions.engine import runner
from conversions.engine.context import ConversionContext
from tests.conversions.documents.test_documents import convert
from tests.documents_fixtures import report_md

PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8cfc000000301"
        "0100c9fe92ef0000000049454e44ae426082"
    )
).decode()
DATA = f"data:image/png;base64,{PNG}"

RICH = f"""---
title: "Herons <b>raw</b> ![m](secret.png)"
author: [Ann <i>x</i>, Bo]
abstract: |
  Abstract ![i](secret.png){{style="x"}} and `code`{{src=y width=2}}.

  <div>raw block in meta</div>
header-includes: <script src="x.js"></script>
css: evil.css
pagetitle: the users own
custom:
  nested: "<img src=x>"
---

# Head {{#h width=3}}

Para [span]{{.c style="s" width="1" height="2" lang=en dir=rtl data-x=1 src=z}} and
[link](http://example.com "t"){{style=q width=9}} and `code`{{style=w lang=x}}
and ![data pic]({DATA} "title"){{#d .k width=40 src=evil style=s}}
and ![upper](DATA:image/png;base64,{PNG}) and ![file](secret.png "t"){{#f .g height=3 style=x}}
and <span style="y">raw inline</span> and `\\input{{x}}`{{=latex}}.

::: {{.note style="bg" dir=ltr poster=p}}
Div text[^1].
:::

[^1]: Note with ![n](http://127.0.0.1:9/y.png) and <img src="secret.png">.

```{{.python style=s height=1}}
print(1)
```

![figure caption](secret.png){{#fig width=50% style=z}}

| a | b |
|---|---|
| ![c](../secret.png) | <b>2</b> |

: Table caption ![t](x.png) {{#tab style=t width=3}}

```{{=html}}
<iframe src="secret.txt"></iframe>
```
"""

ATTR_FIRST = {"Image", "Link", "Span", "Div", "Code", "CodeBlock", "Figure", "Table"}


def cleaned_tree(tmp_path, monkeypatch, text, *, drop_raw, display_name="", source="md"):
    """The converter's own run, with pandoc's JSON writer in place of the target's."""
    monkeypatch.setitem(pandoc.WRITERS, "json", "json")
    work = tmp_path / f"work-{drop_raw}-{display_name or 'none'}"
    work.mkdir()
    src = work / f"source.{source}"
    src.write_text(text)
    ctx = ConversionContext(workdir=work, source_path=src, source_format=source, target_format="json",
                            display_name=display_name)  # fmt: skip
    pandoc.PandocConverter()._run(ctx, "json", work / "tree.json", drop_raw=drop_raw)
    return json.loads((work / "tree.json").read_text())


def nodes(node):
    if isinstance(node, list):
        for item in node:
            yield from nodes(item)
    elif isinstance(node, dict):
        if "t" in node:
            yield node
        for value in node.values():
            yield from nodes(value)


@pytest.mark.parametrize("drop_raw", [False, True])
def test_the_filter_cleans_the_tree(tmp_path, monkeypatch, drop_raw):
    tree = cleaned_tree(tmp_path, monkeypatch, RICH, drop_raw=drop_raw)
    everything = list(nodes([tree["meta"], tree["blocks"]]))
    kinds = [n["t"] for n in everything]

    assert set(tree["meta"]) == {"title", "author", "abstract"}  # no pagetitle: the document has a title
    images = [n for n in everything if n["t"] == "Image"]
    assert [img["c"][2][0] for img in images] == [DATA]  # only the inline `data:` picture (lower case)
    assert images[0]["c"][0] == ["d", ["k"], [["width", "40"]]] and images[0]["c"][2][1] == "title"
    spans = {n["c"][0][0]: n for n in everything if n["t"] == "Span"}
    assert spans["f"]["c"][0] == ["f", ["g"], [["height", "3"]]]  # an image naming a file: a span of its alt
    assert "".join(s["c"] for s in nodes(spans["f"]["c"][1]) if s["t"] == "Str") == "file"
    for node in everything:
        if node["t"] in ATTR_FIRST:
            assert {k for k, _ in node["c"][0][2]} <= {"width", "height", "lang", "dir"}, node
    kept = [n for n in everything if n["t"] == "Span" and n["c"][0][1] == ["c"]][0]
    assert kept["c"][0][2] == [["width", "1"], ["height", "2"], ["lang", "en"], ["dir", "rtl"]]
    link = [n for n in everything if n["t"] == "Link"][0]
    assert link["c"][2][0] == "http://example.com"  # links stay links: writers do not fetch them

    raw = [n for n in everything if n["t"] in ("RawInline", "RawBlock")]
    if drop_raw:
        assert raw == []
    else:
        assert {"RawInline", "RawBlock"} <= set(kinds)
        assert any("iframe" in n["c"][1] for n in raw) and any("<b>" == n["c"][1] for n in raw)


def test_pagetitle_is_ours_when_the_document_has_no_title(tmp_path, monkeypatch):
    untitled = "---\npagetitle: the users own\nsubject: Birds\n---\n\nBody\n"
    tree = cleaned_tree(tmp_path, monkeypatch, untitled, drop_raw=True, display_name="Heron report")
    assert tree["meta"] == {"pagetitle": {"t": "MetaString", "c": "Heron report"},
                            "subject": {"t": "MetaInlines", "c": [{"t": "Str", "c": "Birds"}]}}  # fmt: skip
    tree = cleaned_tree(tmp_path, monkeypatch, untitled, drop_raw=False)
    assert tree["meta"]["pagetitle"]["c"] == "Document"


def test_rst_reads_as_before_in_a_run_of_its_own(tmp_path, monkeypatch):
    """rst read standalone would promote its lone heading to the title: its reader runs without -s."""
    tree = cleaned_tree(tmp_path, monkeypatch, "Herons\n======\n\nBody text.\n", drop_raw=True, source="rst")
    assert [b["t"] for b in tree["blocks"]] == ["Header", "Para"]
    assert "title" not in tree["meta"]


def runs(monkeypatch):
    """Every tool run of the engine, counted where the runner starts it."""
    calls = []
    real = runner.run

    def counting(argv, **kwargs):
        calls.append([str(a) for a in argv])
        return real(argv, **kwargs)

    monkeypatch.setattr(runner, "run", counting)
    return calls


def test_md_to_html_is_one_pandoc_run(tmp_path, monkeypatch):
    calls = runs(monkeypatch)
    src = tmp_path / "report.md"
    src.write_text(report_md(3))
    out, _, _ = convert(tmp_path, src, "md", "html")
    assert len(calls) == 1 and calls[0][0] == pandoc.pandoc_binary()
    assert f"--lua-filter={pandoc.CLEAN_FILTER}" in calls[0] and "--sandbox" in calls[0]
    assert "<title>Heron report</title>" in out.read_text()


def test_the_pdf_steps_html_is_one_run_without_raw_markup(tmp_path, monkeypatch, office_bridge):
    calls = runs(monkeypatch)
    src = tmp_path / "raw.md"
    src.write_text("# Herons\n\nBody <b>bold</b> <iframe src=\"x\"></iframe> text.\n")
    convert(tmp_path, src, "md", "pdf")
    pandoc_runs = [c for c in calls if c[0] == pandoc.pandoc_binary()]
    assert len(pandoc_runs) == 1 and f"--lua-filter={pandoc.DROP_RAW_FILTER}" in pandoc_runs[0]
    html = (tmp_path / "work-md-pdf" / "document.html").read_text()
    assert "Body" in html and "<b>" not in html and "iframe" not in html
