"""Default encoder settings and the `preset` option (speed against size at the same quality)."""

import pytest

from conversions.engine.registry import registry
from conversions.errors import BadRequest
from media.ffmpeg import plans
from media.ffmpeg.probe import Probe, Stream

SOURCE = Probe(1.0, "mov", (Stream(0, "video", "mpeg2video", 160, 120, 25.0), Stream(1, "audio", "aac")))


def argv_for(target, options):
    converter = registry.find("mkv", target)
    cleaned = converter.clean_options("mkv", target, options)
    return plans.video_plan(SOURCE, "mp4", "source.mp4", target, cleaned, f"output.{target}").argv


def after(argv, flag):
    return argv[argv.index(flag) + 1]


def test_default_vp9_is_two_pass_quality_not_realtime():
    argv = argv_for("webm", {})
    assert (after(argv, "-deadline"), after(argv, "-cpu-used"), after(argv, "-crf")) == ("good", "4", "29")
    assert after(argv, "-b:v") == "0" and after(argv, "-row-mt") == "1"


def test_default_h264():
    argv = argv_for("mp4", {})
    assert (after(argv, "-preset"), after(argv, "-crf")) == ("veryfast", "21")


@pytest.mark.parametrize(
    "target,preset,expected",
    [
        ("webm", "faster", ("-deadline", "realtime", "-cpu-used", "8")),
        ("webm", "smaller", ("-deadline", "good", "-cpu-used", "2")),
        ("mp4", "faster", ("-preset", "superfast")),
        ("mov", "smaller", ("-preset", "slow")),
    ],
)
def test_preset_trades_speed_for_size_at_the_same_crf(target, preset, expected):
    argv = argv_for(target, {"preset": preset})
    for flag, value in zip(expected[::2], expected[1::2], strict=True):
        assert after(argv, flag) == value
    assert after(argv, "-crf") == str(plans.CRF_DEFAULT["vp9" if target == "webm" else "h264"])


def test_preset_alone_keeps_a_stream_that_fits():
    info = Probe(1.0, "matroska", (Stream(0, "video", "h264", 160, 120, 25.0), Stream(1, "audio", "aac")))
    plan = plans.video_plan(info, "mkv", "source.mkv", "mp4", {"preset": "smaller"}, "output.mp4")
    assert plan.copied == ("video", "audio")


def test_an_unknown_preset_is_refused():
    with pytest.raises(BadRequest) as exc:
        registry.find("mp4", "webm").clean_options("mp4", "webm", {"preset": "ludicrous"})
    assert "preset" in str(exc.value)


def test_the_catalog_names_the_preset_and_its_choices():
    options = {o.name: o for o in registry.find("mp4", "webm").options_for("mp4", "webm")}
    assert options["preset"].choices == plans.PRESETS
