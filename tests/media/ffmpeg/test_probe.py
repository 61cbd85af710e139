"""Probe-first caps, hostile inputs, option checks and stream copy, on real files."""

import json
import subprocess
import time

import pytest

from conversions.engine import sniff
from conversions.files import storage
from conversions.errors import ConversionFailed
from conversions.models import Job
from media.ffmpeg import plans
from media.converters.av import AUDIO_SOURCES, VIDEO_SOURCES
from tests.builders import upload
from tests.media.helpers import codec, convert, kinds
from tests.media.media_builders import claims_ten_hours, ffprobe
from tests.media.media_builders import ffmpeg as run_ffmpeg


def submit(api, name, data, target, options=None):
    body = {"file": upload(name, data), "targetFormat": target}
    if options is not None:
        body["options"] = json.dumps(options)
    return api.post("/api/v1/convert", body, format="multipart")


@pytest.mark.parametrize("fmt", VIDEO_SOURCES + AUDIO_SOURCES)
def test_every_sample_sniffs_as_its_own_format(media_dir, fmt):
    assert sniff.identify(media_dir / f"sample.{fmt}", f"clip.{fmt}")[0] == fmt


PLAYLISTS = {
    "hls.mp4": b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\nhttp://169.254.169.254/a.ts\n"
               b"#EXT-X-ENDLIST\n",
    "concat.mkv": b"ffconcat version 1.0\nfile /etc/passwd\n",
    "proto.ts": b"concat:/etc/passwd|/etc/hostname\n",
    "bom.mp3": b"\xef\xbb\xbf#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n",
}


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(PLAYLISTS))
def test_playlists_are_refused_at_upload_whatever_their_name(api, run_jobs, ffmpeg, name):
    with run_jobs():
        resp = submit(api, name, PLAYLISTS[name], "webm" if not name.endswith("mp3") else "wav")
    assert resp.status_code == 415, resp.content
    assert resp.json()["error"]["code"] == "playlist_refused"
    assert "playlist" in resp.json()["error"]["message"]
    assert not Job.objects.exists()
    uploads = storage.uploads()
    assert not uploads.exists("uploads") or uploads.listdir("uploads") == ([], [])


def test_a_tiny_file_claiming_ten_hours_is_refused_by_the_cap_in_under_a_second(media_dir, tmp_path):
    liar = claims_ten_hours(tmp_path / "liar.mkv", media_dir / "sample.mkv")
    assert liar.stat().st_size < 25_000
    assert float(ffprobe(liar)["format"]["duration"]) == pytest.approx(36000)
    started = time.monotonic()
    with pytest.raises(ConversionFailed) as exc:
        convert(liar, "mp4", tmp_path / "work")
    assert time.monotonic() - started < 1.0
    assert exc.value.code == "media_too_long"
    assert "10:00:00" in exc.value.message and "limit" in exc.value.message
    assert not (tmp_path / "work" / "output.mp4").exists()


@pytest.mark.django_db
def test_the_ten_hour_claim_fails_its_job_with_a_clear_error(api, run_jobs, media_dir, tmp_path):
    liar = claims_ten_hours(tmp_path / "liar.mkv", media_dir / "sample.mkv")
    with run_jobs():
        resp = submit(api, "liar.mkv", liar.read_bytes(), "webm")
    assert resp.status_code == 202
    status = api.get(f"/api/v1/status/{resp.json()['jobId']}").json()
    assert status["status"] == "failed"
    assert status["error"]["code"] == "media_too_long"
    assert Job.objects.get().attempts == 1  # bad input: never retried


@pytest.mark.django_db
def test_a_truncated_mp4_fails_with_a_clear_error(api, run_jobs, media_dir):
    data = (media_dir / "sample.mp4").read_bytes()
    with run_jobs():
        resp = submit(api, "cut.mp4", data[: len(data) // 2], "webm")
    assert resp.status_code == 202
    status = api.get(f"/api/v1/status/{resp.json()['jobId']}").json()
    assert status["status"] == "failed"
    assert status["error"]["code"] == "invalid_media"
    assert "truncated" in status["error"]["message"]


@pytest.mark.parametrize(
    "setting,value,code",
    [("MEDIA_MAX_WIDTH", 100, "media_too_large"), ("MEDIA_MAX_HEIGHT", 100, "media_too_large"),
     ("MEDIA_MAX_FRAMES", 10, "media_too_many_frames"), ("MEDIA_MAX_DURATION_SECONDS", 0, "media_too_long")],
)
def test_caps_refuse_before_any_transcode(settings, media_dir, tmp_path, setting, value, code):
    setattr(settings, setting, value)
    with pytest.raises(ConversionFailed) as exc:
        convert(media_dir / "sample.mp4", "webm", tmp_path)
    assert exc.value.code == code
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source.mp4"]  # ffmpeg never started


def test_a_video_without_audio_cannot_give_an_mp3(ffmpeg, tmp_path):
    silent = tmp_path / "silent.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=1", "-c:v", "libx264", "-f", "mp4", silent)
    with pytest.raises(ConversionFailed) as exc:
        convert(silent, "mp3", tmp_path / "work")
    assert exc.value.code == "no_audio_stream"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "target,options,fragment",
    [
        ("mp4", {"crf": 20, "videoBitrate": 800}, "not both"),
        ("mp4", {"width": 321}, "even"),
        ("mp4", {"crf": 60}, "between 0 and 51"),
        ("webm", {"sampleRate": 44100}, "sampleRate"),
        ("mp4", {"fps": 0}, "fps"),
        ("mp3", {"channels": 6}, "channels"),
        ("jpg", {"at": "soon"}, "'at' must be"),
        ("png", {"at": "150%"}, "'at' must be"),
        ("gif", {"crf": 20}, "unknown option"),
    ],
)
def test_bad_options_are_400_with_a_clear_message(api, media_dir, target, options, fragment):
    resp = submit(api, "clip.mkv", (media_dir / "sample.mkv").read_bytes(), target, options)
    assert resp.status_code == 400, resp.content
    assert resp.json()["error"]["code"] == "invalid_option"
    assert fragment in resp.json()["error"]["message"]
    assert not Job.objects.exists()


def test_options_reach_ffmpeg(media_dir, tmp_path):
    options = {"width": 80, "fps": 10, "sampleRate": 22050, "channels": 1, "audioBitrate": 64}
    out, _ = convert(media_dir / "sample.mkv", "mp4", tmp_path, options)
    info = ffprobe(out)
    video = next(s for s in info["streams"] if s["codec_type"] == "video")
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert (video["width"], video["height"], video["avg_frame_rate"]) == (80, 60, "10/1")
    assert (audio["sample_rate"], audio["channels"]) == ("22050", 1)


def test_thumbnail_at_a_moment_and_past_the_end(media_dir, tmp_path):
    out, _ = convert(media_dir / "sample.webm", "png", tmp_path / "a", {"at": "0.5", "width": 64})
    assert ffprobe(out)["streams"][0]["width"] == 64
    with pytest.raises(ConversionFailed) as exc:
        convert(media_dir / "sample.webm", "jpg", tmp_path / "b", {"at": "30"})
    assert exc.value.code == "invalid_option" and "lasts only" in exc.value.message


def _stream_md5(path, kind):
    return subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", f"0:{kind}", "-c", "copy", "-f", "md5", "-"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()


def test_h264_aac_in_mkv_is_remuxed_to_mp4_not_reencoded(media_dir, tmp_path):
    out, _ = convert(media_dir / "sample.mkv", "mp4", tmp_path)
    info = ffprobe(out)
    assert kinds(info) == ["video", "audio"] and (codec(info, "video"), codec(info, "audio")) == ("h264", "aac")
    # Bit-identical streams: copied, not encoded again.
    assert _stream_md5(out, "v") == _stream_md5(media_dir / "sample.mkv", "v")
    assert _stream_md5(out, "a") == _stream_md5(media_dir / "sample.mkv", "a")


def test_only_the_stream_that_does_not_fit_is_encoded():
    from media.ffmpeg.probe import Probe, Stream

    info = Probe(1.0, "matroska", (Stream(0, "video", "h264", 160, 120, 25.0), Stream(1, "audio", "opus")))
    plan = plans.video_plan(info, "mkv", "source.mkv", "mp4", {}, "output.mp4")
    assert plan.copied == ("video",)
    assert "libx264" not in plan.argv and "aac" in plan.argv
    assert plans.video_plan(info, "mkv", "source.mkv", "mp4", {"crf": 30}, "output.mp4").copied == ()


def test_inputs_are_opened_with_an_explicit_demuxer_and_file_protocol_only():
    from media.ffmpeg.probe import Probe, Stream

    info = Probe(1.0, "mov", (Stream(0, "video", "h264", 160, 120, 25.0), Stream(1, "audio", "aac")))
    argv = plans.video_plan(info, "mp4", "source.mp4", "webm", {}, "output.webm").argv
    i = argv.index("-i")
    assert argv[i - 4:i + 2] == ["-protocol_whitelist", "file", "-f", "mov", "-i", "file:source.mp4"]


def test_the_catalog_offers_every_pair_with_its_options(api, db, ffmpeg):
    catalog = {e["format"]: e for e in api.get("/api/v1/formats").json()["formats"]}
    mp4_targets = {t["format"]: t for t in catalog["mp4"]["targets"]}
    assert {"webm", "mkv", "mov", "avi", "gif", "mp3", "wav", "m4a", "ogg", "flac", "opus", "jpg", "png"} <= set(mp4_targets)
    assert mp4_targets["webm"]["family"] == "media"
    assert {o["name"] for o in mp4_targets["webm"]["options"]} >= {"crf", "videoBitrate", "width", "fps", "audioBitrate"}
    assert {t["format"] for t in catalog["amr"]["targets"]} >= {"mp3", "wav", "flac", "ogg", "opus", "m4a", "aac", "aiff"}
