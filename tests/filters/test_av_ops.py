"""Audio and video operations on real clips: durations, loudness, sizes, streams."""

import pytest
from PIL import Image

from tests.filters.conftest import duration, loudness, probe, stream

pytestmark = pytest.mark.django_db


def test_trim_audio(submit, tmp_path):
    _, out = submit.run("tone.wav", [{"op": "trim", "start": 1.0, "end": 3.5}], tmp_path=tmp_path)
    assert abs(duration(out) - 2.5) <= 0.1


def test_trim_mp3_from_start_to_the_end(submit, tmp_path):
    _, out = submit.run("tone.mp3", [{"op": "trim", "start": 4}], tmp_path=tmp_path)
    assert abs(duration(out) - 2.0) <= 0.1


def test_volume_changes_loudness_by_its_decibels(submit, tmp_path):
    before = loudness(submit.samples / "tone.wav")
    _, out = submit.run("tone.wav", [{"op": "volume", "db": -10}], tmp_path=tmp_path)
    assert abs(loudness(out) - (before - 10)) <= 1


@pytest.mark.parametrize("target", [-16, -23])
def test_normalize_reaches_the_target_loudness(submit, tmp_path, target):
    assert abs(loudness(submit.samples / "tone.wav") - target) > 3
    _, out = submit.run("tone.wav", [{"op": "normalize", "target": target}], "mp3", tmp_path=tmp_path)
    assert abs(loudness(out) - target) <= 1
    assert abs(duration(out) - 6) <= 0.1
    assert stream(out, "audio")["sample_rate"] == "44100"


def test_fade_in_and_out_silence_the_ends(submit, tmp_path):
    _, out = submit.run("tone.wav", [{"op": "fade", "in": 2, "out": 2}], tmp_path=tmp_path)
    import wave

    with wave.open(str(out)) as w:
        rate, frames = w.getframerate(), w.readframes(w.getnframes())
    import array

    samples = array.array("h", frames)
    first = max(abs(s) for s in samples[: rate // 20 * 2])
    middle = max(abs(s) for s in samples[rate * 3 * 2 : rate * 3 * 2 + 2000])
    last = max(abs(s) for s in samples[-rate // 20 * 2 :])
    assert first < middle / 10 and last < middle / 10
    assert abs(duration(out) - 6) <= 0.1


@pytest.mark.parametrize("factor, expected", [(2, 3.0), (0.5, 12.0), (0.25, 24.0)])
def test_speed_changes_the_duration(submit, tmp_path, factor, expected):
    _, out = submit.run("tone.wav", [{"op": "speed", "factor": factor}], "flac", tmp_path=tmp_path)
    assert abs(duration(out) - expected) <= 0.1


def test_channels_and_sample_rate(submit, tmp_path):
    _, out = submit.run("tone.wav", [{"op": "channels", "count": 1}, {"op": "sample_rate", "hz": 22050}], tmp_path=tmp_path)
    audio = stream(out, "audio")
    assert audio["channels"] == 1 and audio["sample_rate"] == "22050"
    assert abs(duration(out) - 6) <= 0.1


def test_audio_chain_of_five(submit, tmp_path):
    ops = [
        {"op": "trim", "start": 1, "end": 5},
        {"op": "speed", "factor": 2},
        {"op": "fade", "in": 0.2, "out": 0.2},
        {"op": "channels", "count": 1},
        {"op": "normalize", "target": -18},
    ]
    status, out = submit.run("tone.mp3", ops, "ogg", tmp_path=tmp_path)
    assert abs(duration(out) - 2.0) <= 0.1
    assert stream(out, "audio")["channels"] == 1
    assert abs(loudness(out) - -18) <= 1
    assert status["targetFormat"] == "ogg"


def test_video_trim_resize_rotate_speed_fps(submit, tmp_path):
    ops = [
        {"op": "trim", "start": 0.5, "end": 3.5},
        {"op": "resize", "width": 160},
        {"op": "rotate", "degrees": 90},
        {"op": "speed", "factor": 2},
        {"op": "fps", "value": 10},
    ]
    _, out = submit.run("clip.mp4", ops, tmp_path=tmp_path)
    video = stream(out, "video")
    assert (video["width"], video["height"]) == (120, 160)
    assert video["r_frame_rate"] == "10/1"
    assert abs(duration(out) - 1.5) <= 0.1
    assert stream(out, "audio") is not None


def test_video_crop_mute_and_cover_resize(submit, tmp_path):
    ops = [{"op": "crop", "x": 10, "y": 10, "width": 201, "height": 150}, {"op": "resize", "width": 100, "height": 100, "fit": "cover"}, {"op": "mute"}]
    _, out = submit.run("clip.mp4", ops, "webm", tmp_path=tmp_path)
    video = stream(out, "video")
    assert (video["width"], video["height"]) == (100, 100)
    assert stream(out, "audio") is None
    assert abs(duration(out) - 4) <= 0.1


def test_a_filtered_video_is_encoded_by_the_media_conversions_encoders(submit, tmp_path):
    """filters/av_exec.py asks media/ffmpeg/plans.py for its x264 and VP9 settings: 4:2:0, what players read."""
    for target, codec in (("webm", "vp9"), ("mp4", "h264")):
        _, out = submit.run("clip.mp4", [{"op": "mute"}], target, tmp_path=tmp_path)
        found = probe(out, "stream=codec_type,codec_name,pix_fmt")["streams"]
        video = next(s for s in found if s["codec_type"] == "video")
        assert (video["codec_name"], video["pix_fmt"]) == (codec, "yuv420p")


def test_video_compress_with_a_higher_crf_is_smaller(submit, tmp_path):
    _, good = submit.run("clip.mp4", [{"op": "mute"}, {"op": "compress", "crf": 18}], tmp_path=tmp_path)
    _, small = submit.run("clip.mp4", [{"op": "mute"}, {"op": "compress", "crf": 40}], tmp_path=tmp_path)
    assert small.stat().st_size < good.stat().st_size / 2


def test_video_watermark_draws_text_in_its_corner(submit, tmp_path):
    (tmp_path / "plain").mkdir()
    _, marked = submit.run("clip.mp4", [{"op": "watermark", "text": "50% off: %{pts} 'quoted' \\ done", "position": "top-left", "opacity": 1}, {"op": "thumbnail", "at": 1}], "png", tmp_path=tmp_path)
    _, plain = submit.run("clip.mp4", [{"op": "thumbnail", "at": 1}], "png", tmp_path=tmp_path)
    a, b = Image.open(marked).convert("L"), Image.open(plain).convert("L")
    corner = (0, 0, 160, 40)
    diff_corner = sum(abs(x - y) for x, y in zip(a.crop(corner).tobytes(), b.crop(corner).tobytes()))
    bottom = (0, 200, 320, 240)
    diff_bottom = sum(abs(x - y) for x, y in zip(a.crop(bottom).tobytes(), b.crop(bottom).tobytes()))
    assert diff_corner > 20 * diff_bottom + 1000


def test_thumbnail_is_an_image_of_the_video_size(submit, tmp_path):
    status, out = submit.run("clip.mp4", [{"op": "resize", "width": 160}, {"op": "thumbnail", "at": 2}], tmp_path=tmp_path)
    im = Image.open(out)
    assert im.format == "JPEG" and im.size == (160, 120)
    assert status["targetFormat"] == "jpg" and status["result"]["contentType"] == "image/jpeg"


def test_thumbnail_past_the_end_fails_with_a_clear_message(submit):
    with submit.run_jobs():
        resp = submit.post("clip.mp4", [{"op": "thumbnail", "at": 30}])
    status = submit.api.get(resp.json()["statusUrl"]).json()
    assert status["status"] == "failed"
    assert status["error"]["code"] == "invalid_operation" and "past the end" in status["error"]["message"]


def test_convert_then_normalize_in_one_job(submit, tmp_path):
    status, out = submit.run("clip.mp4", [{"op": "trim", "start": 1, "end": 3}, {"op": "normalize"}], "mp3", path="/api/v1/convert", tmp_path=tmp_path)
    assert status["kind"] == "convert" and status["progress"] == 100
    assert abs(duration(out) - 2) <= 0.1
    assert abs(loudness(out) - -16) <= 1


# --- The media conversions' caps hold for filters too -----------------------------


def _failed(submit, name, operations):
    with submit.run_jobs():
        resp = submit.post(name, operations)
    assert resp.status_code == 202, resp.json()
    return submit.api.get(resp.json()["statusUrl"]).json()


@pytest.mark.parametrize(
    "setting, value, name, code",
    [
        ("MEDIA_MAX_DURATION_SECONDS", 3, "tone.wav", "media_too_long"),
        ("MEDIA_MAX_WIDTH", 160, "clip.mp4", "media_too_large"),
        ("MEDIA_MAX_FRAMES", 50, "clip.mp4", "media_too_many_frames"),
    ],
)
def test_filters_pass_the_media_probe_and_caps(submit, settings, setting, value, name, code):
    setattr(settings, setting, value)
    status = _failed(submit, name, [{"op": "volume", "db": -3}])
    assert status["status"] == "failed" and status["error"]["code"] == code, status


def test_a_file_claiming_ten_hours_is_refused_before_any_filtering(submit, tmp_path):
    from tests.media.media_builders import claims_ten_hours, make_video

    source = make_video(tmp_path / "short.mkv", muxer="matroska", vcodec=("-c:v", "libx264", "-preset", "ultrafast"))
    (submit.samples / "ten-hours.mkv").write_bytes(claims_ten_hours(tmp_path / "long.mkv", source).read_bytes())
    status = _failed(submit, "ten-hours.mkv", [{"op": "volume", "db": -3}])
    assert status["status"] == "failed" and status["error"]["code"] == "media_too_long", status


def test_filter_ffmpeg_runs_with_the_media_memory_limit(submit, settings, tmp_path):
    settings.MEDIA_MEMORY_MB = 8  # far too little for ffmpeg to even start
    status = _failed(submit, "clip.mp4", [{"op": "volume", "db": -3}])
    assert status["status"] == "failed", status


@pytest.mark.parametrize("target", ["avi", "wmv", "mpeg", "ogv", "mkv", "ts", "3gp", "flv"])
def test_every_video_target_gets_the_media_conversions_codecs(submit, tmp_path, target):
    """One table of encoders (media/ffmpeg/plans.py) for conversions and filter chains alike."""
    from media.ffmpeg import plans

    _, out = submit.run("clip.mp4", [{"op": "trim", "start": 0, "end": 1}], target, tmp_path=tmp_path)
    found = {s["codec_type"]: s["codec_name"] for s in probe(out, "stream=codec_type,codec_name")["streams"]}
    want = plans.VIDEO_TARGETS[target]
    assert found["video"] == {"theora": "theora"}.get(want.video, want.video)
    assert found.get("audio") in (None, want.audio)


@pytest.mark.parametrize("target", ["mp3", "ogg", "opus", "m4a", "aac", "wma", "aiff"])
def test_every_audio_target_gets_the_media_conversions_codecs(submit, tmp_path, target):
    from media.ffmpeg import plans

    _, out = submit.run("tone.wav", [{"op": "trim", "start": 0, "end": 1}], target, tmp_path=tmp_path)
    found = probe(out, "stream=codec_type,codec_name")["streams"]
    assert [s["codec_name"] for s in found if s["codec_type"] == "audio"] == [plans.AUDIO_TARGETS[target].audio]
