"""Every offered pair, proven: registry.pairs() enumerated, each pair run on a real sample.

One test per source -> target pair the registry offers on this machine. The
sample of the source is built once (tests/catalog/samples.py) and shared by
all its pairs; the output must pass its target's check (tests/catalog/
checks.py). A pair whose source has no sample, or whose target has no check,
fails: a pair cannot be offered without being proven.
"""

import shutil

import pytest

from conversions.engine.context import ConversionContext
from conversions.engine.registry import registry

from .checks import verify
from .samples import Samples


def _offered():
    return [(s, t) for s, t, _ in registry.pairs()]


def pytest_generate_tests(metafunc):
    if "pair" in metafunc.fixturenames:
        pairs = _offered()
        metafunc.parametrize("pair", pairs, ids=[f"{s}-{t}" for s, t in pairs])


@pytest.fixture(scope="session")
def samples(tmp_path_factory):
    return Samples(tmp_path_factory.mktemp("catalog-samples"))


@pytest.fixture(scope="module", autouse=True)
def _office_bridge_stopped():
    yield
    from conversions.documents.office_bridge import manager

    manager().shutdown()


def convert(sample, target, workdir):
    converter = registry.find(sample.fmt, target)
    source = workdir / f"source.{sample.fmt}"
    shutil.copyfile(sample.path, source)
    ctx = ConversionContext(
        workdir=workdir, source_path=source, source_format=sample.fmt, target_format=target,
        options=converter.clean_options(sample.fmt, target, {}), display_name="sample",
    )
    result = converter.convert(ctx)
    return (result if result else ctx.output_path), ctx.output_format


def test_pair(pair, samples, tmp_path):
    source, target = pair
    sample = samples.get(source)
    out, out_format = convert(sample, target, tmp_path)
    verify(out, target, sample, out_format=out_format)


def test_every_offered_pair_is_enumerated():
    """The catalog the API serves is the list this module proves."""
    catalog = registry.catalog()
    served = {(entry["format"], t["format"]) for entry in catalog for t in entry["targets"]}
    assert served == set(_offered())


BREADTH_CONVERTERS = {
    "fonttools", "pysubs2", "data", "bsdtar", "pillow-vips", "librsvg-more", "ffmpeg-animation", "ffmpeg-frames",
    "ffmpeg-waveform", "ffmpeg-animation-video",
}


def test_every_family_is_installed_and_the_catalog_is_over_a_thousand_pairs():
    """A missing tool or library drops its pairs silently from the catalog: under CI that fails here."""
    from tests.services import require

    offered = {conv.name for _, _, conv in registry.pairs()}
    missing = sorted(BREADTH_CONVERTERS - offered)
    require(not missing, f"converters not offered on this machine: {', '.join(missing)}")
    require(len(registry.pairs()) >= 1000, f"only {len(registry.pairs())} pairs are offered")
