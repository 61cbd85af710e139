"""Every audio/video pair on real ffmpeg-made clips, the output read back by ffprobe."""

import functools

import pytest

from conversions.engine import sniff
from media.converters.av import AudioConverter, ThumbnailConverter, VideoConverter
from tests.media.helpers import codec, convert, duration, kinds
from tests.media.media_builders import ffprobe

# What ffprobe must find in each target: container name, video codecs, audio codecs.
# Several codecs are allowed where a fitting source stream is copied instead of encoded.
VIDEO_EXPECT = {
    "mp4": ("mp4", {"h264", "mpeg4"}, {"aac", "mp3"}),
    "mov": ("mov", {"h264", "mpeg4"}, {"aac", "mp3"}),
    "mkv": ("matroska", {"h264", "vp9", "mpeg4", "mpeg2video", "theora"}, {"aac", "opus", "mp3", "mp2", "vorbis"}),
    "webm": ("webm", {"vp9"}, {"opus", "vorbis"}),
    "avi": ("avi", {"mpeg4"}, {"mp3"}),
    "m4v": ("mp4", {"h264", "hevc", "mpeg4"}, {"aac", "mp3"}),
    "3gp": ("3gp", {"h264"}, {"aac"}),
    "flv": ("flv", {"h264"}, {"aac", "mp3"}),
    "ts": ("mpegts", {"h264", "hevc", "mpeg2video"}, {"aac", "mp3", "mp2", "ac3"}),
    "mpeg": ("mpeg", {"mpeg2video", "mpeg1video"}, {"mp2", "mp3", "ac3"}),
    "wmv": ("asf", {"wmv2", "wmv1"}, {"wmav2", "wmav1"}),
    "ogv": ("ogg", {"theora"}, {"vorbis", "opus", "flac"}),
}
AUDIO_EXPECT = {
    "mp3": ("mp3", "mp3"),
    "wav": ("wav", "pcm_s16le"),
    "flac": ("flac", "flac"),
    "ogg": ("ogg", "vorbis"),
    "opus": ("ogg", "opus"),
    "m4a": ("m4a", "aac"),
    "aac": ("aac", "aac"),
    "aiff": ("aiff", "pcm_s16be"),
    "wma": ("asf", "wmav2"),
    "ac3": ("ac3", "ac3"),
    "mp2": ("mp3", "mp2"),  # ffprobe reads MPEG audio layer II with its mp3 demuxer
    "au": ("au", "pcm_s16be"),
    # Matroska keeps a source track it can hold as it is, else FLAC.
    "mka": ("matroska", {"flac", "aac", "mp3", "mp2", "opus", "vorbis", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s24le"}),
}
TOLERANCE = 0.1
# ASF and FLV headers count the last packet's whole span (ASF also its preroll):
# a 1 s clip reads 1.13-1.17 s there, whatever the source container.
VIDEO_TOLERANCE = {"wmv": 0.2, "flv": 0.2}
probe_source = functools.cache(ffprobe)  # each sample is read by ~20 tests


def assert_uploadable(out, target):
    """libmagic's verdict on what ffmpeg made matches formats.py: the result can be uploaded again."""
    assert sniff.identify(out, f"result.{target}")[0] == target


def _ids(pairs):
    return [f"{s}-{t}" for s, t in pairs]


VIDEO_PAIRS = sorted(VideoConverter.pairs)
AUDIO_PAIRS = sorted(AudioConverter.pairs)
THUMB_PAIRS = sorted(ThumbnailConverter.pairs)


@pytest.mark.parametrize("source,target", VIDEO_PAIRS, ids=_ids(VIDEO_PAIRS))
def test_video_pair(media_dir, tmp_path, source, target):
    src = media_dir / f"sample.{source}"
    out, _ = convert(src, target, tmp_path)
    info, before = ffprobe(out), probe_source(src)
    assert_uploadable(out, target)
    if target == "gif":
        assert info["format"]["format_name"] == "gif"
        assert kinds(info) == ["video"] and codec(info, "video") == "gif"
        assert info["streams"][0]["width"] == 160
    else:
        container, vcodecs, acodecs = VIDEO_EXPECT[target]
        assert container in info["format"]["format_name"].split(",")
        assert kinds(info) == ["video", "audio"]
        assert codec(info, "video") in vcodecs and codec(info, "audio") in acodecs
    slack = VIDEO_TOLERANCE.get(target, TOLERANCE)
    assert abs(duration(info) - duration(before)) <= slack, (duration(info), duration(before))


@pytest.mark.parametrize("source,target", AUDIO_PAIRS, ids=_ids(AUDIO_PAIRS))
def test_audio_pair(media_dir, tmp_path, source, target):
    src = media_dir / f"sample.{source}"
    out, _ = convert(src, target, tmp_path)
    info, before = ffprobe(out), probe_source(src)
    assert_uploadable(out, target)
    container, acodec = AUDIO_EXPECT[target]
    assert container in info["format"]["format_name"].split(",")
    assert kinds(info) == ["audio"] and codec(info, "audio") in ({acodec} if isinstance(acodec, str) else acodec)
    # The source's own audio track is the reference (a video's picture may run a little longer).
    src_audio = next(s for s in before["streams"] if s["codec_type"] == "audio")
    reference = float(src_audio.get("duration") or duration(before))
    assert abs(duration(info) - reference) <= TOLERANCE, (duration(info), reference)


@pytest.mark.parametrize("source,target", THUMB_PAIRS, ids=_ids(THUMB_PAIRS))
def test_thumbnail_pair(media_dir, tmp_path, source, target):
    out, _ = convert(media_dir / f"sample.{source}", target, tmp_path)
    info = ffprobe(out)
    assert_uploadable(out, target)
    assert kinds(info) == ["video"]
    assert codec(info, "video") == {"jpg": "mjpeg", "png": "png"}[target]
    assert (info["streams"][0]["width"], info["streams"][0]["height"]) == (160, 120)
