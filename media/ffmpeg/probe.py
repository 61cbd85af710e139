"""ffprobe before ffmpeg: what a media file holds, checked against the caps.

Every ffmpeg/ffprobe call opens its input with an explicit demuxer chosen from
the sniffed format and `-protocol_whitelist file`, so a file can never make
ffmpeg pick the HLS/concat demuxers or open a URL or another local file.
The caps are checked on ffprobe's answer, which comes from the headers in
milliseconds, so a tiny file that claims ten hours is refused before any
decoding starts.
"""

import json
import logging
import os
from dataclasses import dataclass, field
from fractions import Fraction

from django.conf import settings

from conversions.errors import ConversionFailed
from media.ffmpeg import spare as spares

logger = logging.getLogger(__name__)

# Sniffed format -> ffmpeg demuxer.
DEMUXERS = {
    "mp4": "mov", "m4v": "mov", "mov": "mov", "3gp": "mov", "m4a": "mov",
    "webm": "matroska", "mkv": "matroska",
    "avi": "avi", "flv": "flv", "wmv": "asf", "wma": "asf",
    "mpeg": "mpeg", "ts": "mpegts",
    "ogv": "ogg", "ogg": "ogg", "opus": "ogg",
    "mp3": "mp3", "wav": "wav", "flac": "flac", "aac": "aac", "aiff": "aiff", "amr": "amr",
    "ac3": "ac3", "mp2": "mp3", "au": "au", "mka": "matroska",
    "gif": "gif", "apng": "apng",
}


def input_args(fmt, path, *, before=()):
    """The hardened input half of an ffmpeg/ffprobe command line."""
    return ["-protocol_whitelist", "file", *before, "-f", DEMUXERS[fmt], "-i", f"file:{path}"]


@dataclass(frozen=True)
class Stream:
    index: int
    kind: str  # video, audio, subtitle, data, attachment
    codec: str
    width: int = 0
    height: int = 0
    fps: float = 0.0
    frames: int = 0
    sample_rate: int = 0
    channels: int = 0
    cover: bool = False  # an attached picture (album art), not a moving video


@dataclass(frozen=True)
class Probe:
    duration: float
    format_name: str
    streams: tuple = field(default_factory=tuple)

    @property
    def video(self):
        """The first real video stream (album art does not count), or None."""
        return next((s for s in self.streams if s.kind == "video" and not s.cover), None)

    @property
    def audio(self):
        return next((s for s in self.streams if s.kind == "audio"), None)


def run_limits(duration):
    """The runner limits of one ffmpeg run over `duration` seconds of media (the job's budget still cuts them).

    The wall-clock allowance grows with the media's length; every core may
    work the whole time; memory is MEDIA_MEMORY_MB. Media conversions and the
    audio/video filters share this one rule.
    """
    timeout = int(max(settings.RUNNER_TIMEOUT_SECONDS, duration * 4 + 60))
    return {"timeout": timeout, "cpu_seconds": timeout * max(2, os.cpu_count() or 1), "memory_mb": settings.MEDIA_MEMORY_MB}


def probe_argv(fmt, name):
    return ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", *input_args(fmt, name)]


def probe(ctx, fmt, path=None):
    """Run ffprobe (its own short timeout) on `path` (default ctx.source_path) and parse it.

    A spare ffprobe started ahead for this format answers when there is one
    (media/ffmpeg/spare.py: the same sandbox and limits, ~0.1 s less);
    else one is started here, as before.
    """
    path = path or ctx.source_path
    warm_argv = probe_argv(fmt, f"source.{fmt}")
    spare = spares.pool.take(fmt, warm_argv)
    if spare is None:
        result = ctx.run(
            probe_argv(fmt, path.name), timeout=settings.MEDIA_PROBE_TIMEOUT_SECONDS,
            memory_mb=settings.MEDIA_MEMORY_MB, tool="ffprobe", check=False,
        )  # fmt: skip
    else:
        try:
            result = spare.run(ctx, path, f"source.{fmt}")
        finally:
            spare.cleanup()
    spares.pool.refill(fmt, warm_argv)
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise ConversionFailed(
            f"This is not a readable {fmt.upper()} file (ffprobe: {detail[:300]}). "
            "It may be truncated or damaged; upload the complete file.",
            code="invalid_media",
        )
    return parse(result.stdout, fmt)


def parse(text, fmt):
    try:
        data = json.loads(text or "{}")
    except ValueError:
        raise ConversionFailed(f"ffprobe could not describe this {fmt.upper()} file.", code="invalid_media") from None
    streams = tuple(_stream(s) for s in data.get("streams", []))
    duration = _duration(data.get("format", {}), data.get("streams", []))
    return Probe(duration=duration, format_name=data.get("format", {}).get("format_name", ""), streams=streams)


def _stream(raw):
    kind = raw.get("codec_type", "")
    fps = _rate(raw.get("avg_frame_rate")) or _rate(raw.get("r_frame_rate"))
    return Stream(
        index=int(raw.get("index", 0)),
        kind=kind,
        codec=raw.get("codec_name", ""),
        width=int(raw.get("width") or 0),
        height=int(raw.get("height") or 0),
        fps=fps if kind == "video" else 0.0,
        frames=_int(raw.get("nb_frames")),
        sample_rate=_int(raw.get("sample_rate")),
        channels=_int(raw.get("channels")),
        cover=bool((raw.get("disposition") or {}).get("attached_pic")),
    )


def _duration(fmt_info, raw_streams):
    """The longest of the container's and the streams' declared durations."""
    values = [_float(fmt_info.get("duration"))] + [_float(s.get("duration")) for s in raw_streams]
    return max(values)


def _rate(text):
    try:
        value = Fraction(text or "0/1")
    except (ValueError, ZeroDivisionError):
        return 0.0
    return float(value) if 0 < value < 10_000 else 0.0


def _float(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return 0.0
    return value if value == value and value != float("inf") else 0.0


def _int(text):
    try:
        return int(text)
    except (TypeError, ValueError):
        return 0


def check_caps(info, fmt):
    """Refuse, before any transcode, what is longer, larger or has more frames than allowed."""
    if not info.streams or (info.video is None and info.audio is None):
        raise ConversionFailed(f"The {fmt.upper()} file holds no audio or video stream.", code="no_media_streams")
    if info.duration <= 0:
        raise ConversionFailed(
            f"The length of this {fmt.upper()} file cannot be read from it; it may be damaged.", code="invalid_media"
        )
    cap = settings.MEDIA_MAX_DURATION_SECONDS
    if info.duration > cap:
        raise ConversionFailed(
            f"The media lasts {_hms(info.duration)}, longer than the {_hms(cap)} limit; trim it or split it first.",
            code="media_too_long",
        )
    video = info.video
    if video is None:
        return
    max_w, max_h = settings.MEDIA_MAX_WIDTH, settings.MEDIA_MAX_HEIGHT
    if video.width > max_w or video.height > max_h:
        raise ConversionFailed(
            f"The video is {video.width}x{video.height}, larger than the {max_w}x{max_h} limit; scale it down first.",
            code="media_too_large",
        )
    frames = max(video.frames, int(info.duration * video.fps))
    if frames > settings.MEDIA_MAX_FRAMES:
        raise ConversionFailed(
            f"The video has about {frames:,} frames, more than the {settings.MEDIA_MAX_FRAMES:,} limit; "
            "lower its frame rate or trim it first.",
            code="media_too_many_frames",
        )


def _hms(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
