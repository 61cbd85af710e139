"""The plain-words `quality` option (smaller file / balanced / best) of video, audio and images.

Real conversions of real files: "smaller" must give a smaller file than
"balanced", and "best" a larger one; "balanced" is what a job without the
option gets. The expert options still win over the words.
"""

import io
import json

import pytest
from PIL import Image

from conversions.errors import BadRequest
from conversions.engine.registry import registry
from media.ffmpeg import plans
from media.ffmpeg.probe import parse

from tests.media.conftest import ffprobe
from tests.media.helpers import convert
from tests.media import media_builders
from tests.media.media_builders import make_video

LEVELS = ("smaller", "balanced", "best")


@pytest.fixture(scope="module")
def clip(ffmpeg, tmp_path_factory):
    path = tmp_path_factory.mktemp("quality") / "clip.mpeg"
    # Detailed moving pictures, so the encoder's quality shows in the size; the audio is a tone.
    # MPEG-2 fits no target as it is, so every target encodes it.
    make_video(path, seconds=2, size="320x240", pattern="testsrc2", vcodec=["-c:v", "mpeg2video", "-q:v", "2"],
               acodec=["-c:a", "mp2"], muxer="mpeg")
    return path


@pytest.fixture(scope="module")
def song(ffmpeg, tmp_path_factory):
    """Three seconds of stereo pink noise: rich enough that every bitrate is used (a sine tone is not)."""
    path = tmp_path_factory.mktemp("quality") / "song.wav"
    media_builders.ffmpeg("-f", "lavfi", "-i", "anoisesrc=d=3:c=pink:r=44100", "-ac", "2", "-c:a", "pcm_s16le", path)
    return path


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    path = tmp_path_factory.mktemp("quality") / "photo.png"
    Image.effect_noise((400, 300), 40).convert("RGB").save(path)
    return path


def sizes(source, target, tmp_path, **extra):
    out = {}
    for level in LEVELS:
        path, _ = convert(source, target, tmp_path / level, {"quality": level, **extra})
        out[level] = path.stat().st_size
    return out


@pytest.mark.parametrize("target", ["webm", "mp4", "mkv", "avi"])
def test_video_quality_orders_the_sizes(clip, tmp_path, target):
    got = sizes(clip, target, tmp_path)
    assert got["smaller"] < got["balanced"] < got["best"], got
    default, _ = convert(clip, target, tmp_path / "default")
    # Without the option a job converts exactly as before: balanced. (Sizes of two
    # runs of the same multi-threaded encode can differ by a few bytes.)
    assert abs(default.stat().st_size - got["balanced"]) <= got["balanced"] * 0.02


@pytest.mark.parametrize("target", ["mp3", "m4a", "opus", "ogg"])
def test_audio_quality_orders_the_sizes(song, tmp_path, target):
    got = sizes(song, target, tmp_path)
    assert got["smaller"] < got["balanced"] < got["best"], got


@pytest.mark.parametrize("target", ["jpg", "webp", "avif"])
def test_image_quality_orders_the_sizes(photo, tmp_path, target):
    got = sizes(photo, target, tmp_path)
    assert got["smaller"] < got["balanced"] < got["best"], got
    default, _ = convert(photo, target, tmp_path / "default")
    assert default.stat().st_size == got["balanced"]


def test_image_quality_still_takes_a_number(photo, tmp_path):
    low, _ = convert(photo, "jpg", tmp_path / "low", {"quality": 20})
    high, _ = convert(photo, "jpg", tmp_path / "high", {"quality": "95"})
    assert low.stat().st_size < high.stat().st_size
    with Image.open(io.BytesIO(low.read_bytes())) as im:
        assert im.format == "JPEG"


def test_expert_options_win_over_the_words():
    assert "-crf" in (args := plans.video_encoder_args("h264", {"quality": "smaller", "crf": 20}))
    assert args[args.index("-crf") + 1] == "20"
    args = plans.video_encoder_args("vp9", {"quality": "best", "videoBitrate": 500})
    assert args[args.index("-b:v") + 1] == "500k" and "-crf" not in args
    args = plans.audio_encoder_args("aac", {"quality": "smaller", "audioBitrate": 200})
    assert args[args.index("-b:a") + 1] == "200k"


def test_balanced_is_todays_default():
    for codec in ("h264", "vp9", "mpeg4"):
        assert plans.video_encoder_args(codec, {"quality": "balanced"}) == plans.video_encoder_args(codec, {})
    for codec in ("aac", "opus", "mp3", "vorbis"):
        assert plans.audio_encoder_args(codec, {"quality": "balanced"}) == plans.audio_encoder_args(codec, {})


def test_a_fitting_stream_is_copied_unless_a_smaller_file_is_asked(media_dir, tmp_path):
    source = media_dir / "sample.mp4"
    info = parse(json.dumps(ffprobe(source)), "mp4")
    converter = registry.find("mp4", "mkv")
    for level, copied in (("balanced", ("video", "audio")), ("best", ("video", "audio")), ("smaller", ())):
        options = converter.clean_options("mp4", "mkv", {"quality": level})
        plan = plans.video_plan(info, "mp4", source.name, "mkv", options, "out.mkv")
        assert plan.copied == copied, level
        out, _ = convert(source, "mkv", tmp_path / level, {"quality": level})
        assert {s["codec_name"] for s in ffprobe(out)["streams"]} == {"h264", "aac"}


def test_quality_is_validated_like_every_option():
    video = registry.find("mp4", "webm")
    with pytest.raises(BadRequest) as exc:
        video.clean_options("mp4", "webm", {"quality": "huge"})
    assert exc.value.code == "invalid_option" and "smaller, balanced, best" in exc.value.message
    assert video.clean_options("mp4", "webm", {})["quality"] == "balanced"
    image = registry.find("png", "jpg")
    assert image.clean_options("png", "jpg", {"quality": "best"})["quality"] == "best"
    assert image.clean_options("png", "jpg", {"quality": "70"})["quality"] == 70
    for bad in (0, 101, "abc", 50.5):
        with pytest.raises(BadRequest):
            image.clean_options("png", "jpg", {"quality": bad})
    # Lossless targets have nothing to trade: no quality option there.
    assert "quality" not in {o.name for o in registry.find("mp3", "flac").options_for("mp3", "flac")}


def test_the_catalog_marks_expert_options_and_plain_labels():
    options = {o.name: o.describe() for o in registry.find("mp4", "webm").options_for("mp4", "webm")}
    assert options["quality"]["choices"] == list(LEVELS) and options["quality"]["default"] == "balanced"
    assert options["quality"].get("advanced") is None and options["width"].get("advanced") is None
    for expert in ("crf", "videoBitrate", "height", "fps", "audioBitrate", "sampleRate", "channels"):
        assert options[expert]["advanced"] is True and options[expert]["label"]
