"""Audio and video conversions with ffmpeg (queue `media`).

Every conversion probes first (ffprobe, its own timeout) and checks the caps
before any transcode; then one ffmpeg run, through the sandboxed runner,
writes progress to a file that the runner's tick turns into the job's
percentage and that stops ffmpeg (process group killed) when the job is
canceled. Streams that already fit the target container are copied.
"""

import logging
import re

from django.conf import settings

from conversions.errors import BadRequest, ConversionFailed
from conversions.engine.registry import Converter, Param, register
from media import quality
from media.ffmpeg import plans
from media.ffmpeg.probe import check_caps, probe, run_limits
from media.ffmpeg.progress import ProgressWatcher

logger = logging.getLogger(__name__)

VIDEO_SOURCES = ("mp4", "webm", "mkv", "mov", "avi", "flv", "wmv", "mpeg", "m4v", "3gp", "ogv", "ts")
AUDIO_SOURCES = ("mp3", "wav", "flac", "ogg", "opus", "aac", "m4a", "wma", "aiff", "amr", "ac3", "mp2", "au", "mka")
VIDEO_TARGETS = ("mp4", "webm", "mkv", "mov", "avi", "gif", "m4v", "3gp", "flv", "ts", "mpeg", "wmv", "ogv")
AUDIO_TARGETS = ("mp3", "wav", "flac", "ogg", "opus", "m4a", "aac", "aiff", "wma", "ac3", "mp2", "au", "mka")
AUDIO_FROM_VIDEO = AUDIO_TARGETS
THUMBNAIL_TARGETS = ("jpg", "png")

SAMPLE_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000)
OPUS_SAMPLE_RATES = (8000, 12000, 16000, 24000, 48000)
RATES_OF = {"opus": OPUS_SAMPLE_RATES, "ac3": (32000, 44100, 48000), "mp2": (32000, 44100, 48000)}


def _sample_rate(choices=SAMPLE_RATES):
    return Param("sampleRate", int, "Audio sample rate in Hz", choices=choices, label="Sample rate (Hz)", advanced=True)


QUALITY = quality.option()
AUDIO_BITRATE = Param("audioBitrate", int, "Audio bitrate in kbit/s (instead of the quality's)", min=8, max=512,
                       label="Audio bitrate (kbit/s)", advanced=True)
CHANNELS = Param("channels", int, "Audio channels (1 = mono, 2 = stereo)", choices=(1, 2), label="Channels",
                  choice_labels=("Mono", "Stereo"), advanced=True)
WIDTH = Param("width", int, "Leave empty to keep the original size; the height follows the width", min=16, max=7680,
               label="Width (pixels)")
HEIGHT = Param("height", int, "Output height in pixels (width follows the aspect ratio unless given)", min=16, max=4320,
                label="Height (pixels)", advanced=True)
FPS = Param("fps", int, "Output frames per second", min=1, max=120, label="Frame rate (fps)", advanced=True)
VIDEO_BITRATE = Param("videoBitrate", int, "Video bitrate in kbit/s (instead of the quality or crf)", min=50,
                       max=100_000, label="Video bitrate (kbit/s)", advanced=True)


PRESET = Param(
    "preset", str, "Encoding speed against file size at the same quality: faster (quick, larger file), "
    "balanced (default) or smaller (slow, smaller file)", default="balanced", choices=plans.PRESETS,
    label="Encoding speed", choice_labels=("Quick encode", "Standard encode", "Thorough encode (smallest output)"), advanced=True,
)


def _crf(maximum, default):
    return Param("crf", int, f"Constant rate factor, 0 (best) to {maximum} (smallest); default {default}. "
                  "Overrides the quality choice", min=0, max=maximum, label="Quality number (CRF)", advanced=True)


class FfmpegConverter(Converter):
    family = "media"
    tool = "ffmpeg"
    tracks_progress = True

    def convert(self, ctx):
        info = probe(ctx, ctx.source_format)
        check_caps(info, ctx.source_format)
        self.check_streams(info, ctx)
        ctx.set_progress(1)
        plan = self.plan(info, ctx)
        watcher = ProgressWatcher(ctx, info.duration)
        argv = [plan.argv[0], *watcher.args(), *plan.argv[1:]] if self.tracks_progress else plan.argv
        result = ctx.run(
            argv, **run_limits(info.duration), tool="ffmpeg", on_tick=watcher.tick if self.tracks_progress else ctx.tick
        )
        logger.info(
            "ffmpeg job=%s family=media tool=ffmpeg %s -> %s media_seconds=%.2f seconds=%.3f copied=%s",
            ctx.job_id, ctx.source_format, ctx.target_format, info.duration, result.seconds,
            ",".join(plan.copied) or "none",
        )
        return ctx.output_path

    def check_streams(self, info, ctx):
        pass

    def plan(self, info, ctx):
        raise NotImplementedError


def _pairs(sources, targets):
    return frozenset((s, t) for s in sources for t in targets if s != t)


@register
class VideoConverter(FfmpegConverter):
    """Video -> video containers (H.264/AAC, VP9/Opus, MPEG-4/MP3) and palette GIFs."""

    name = "ffmpeg-video"
    pairs = _pairs(VIDEO_SOURCES, VIDEO_TARGETS)

    def options_for(self, source, target):
        audio = (AUDIO_BITRATE, _sample_rate(OPUS_SAMPLE_RATES if target == "webm" else SAMPLE_RATES), CHANNELS)
        if target == "gif":
            return (Param("width", int, "GIF width in pixels (default: up to 480)", min=16, max=1280,
                           label="Width (pixels)"),
                    Param("fps", int, "GIF frames per second", default=10, min=1, max=30,
                           label="Frames per second"))
        if target in plans.QSCALE_TARGETS:
            return (QUALITY, WIDTH, VIDEO_BITRATE, HEIGHT, FPS, *audio)
        crf = _crf(63, plans.CRF_DEFAULT["vp9"]) if target == "webm" else _crf(51, plans.CRF_DEFAULT["h264"])
        return (QUALITY, WIDTH, PRESET, crf, VIDEO_BITRATE, HEIGHT, FPS, *audio)

    def clean_options(self, source, target, raw):
        cleaned = super().clean_options(source, target, raw)
        where = f"{source} -> {target}"
        if "crf" in cleaned and "videoBitrate" in cleaned:
            raise BadRequest(f"{where}: give either 'crf' or 'videoBitrate', not both.", code="invalid_option")
        if target != "gif":
            for key in ("width", "height"):
                if cleaned.get(key, 0) % 2:
                    raise BadRequest(
                        f"{where}: '{key}' must be an even number for {target.upper()} video; got {cleaned[key]}.",
                        code="invalid_option",
                    )
        return cleaned

    def check_streams(self, info, ctx):
        if ctx.target_format == "gif":
            if info.video is None:
                raise ConversionFailed("This file has no video stream to turn into a GIF.", code="no_video_stream")
            if info.duration > settings.MEDIA_MAX_GIF_SECONDS:
                raise ConversionFailed(
                    f"GIFs are made from clips up to {settings.MEDIA_MAX_GIF_SECONDS} s; this one lasts "
                    f"{info.duration:.0f} s. Trim it first.",
                    code="media_too_long",
                )

    def plan(self, info, ctx):
        if ctx.target_format == "gif":
            return plans.gif_plan(info, ctx.source_format, ctx.source_path.name, ctx.options, ctx.output_path.name)
        return plans.video_plan(
            info, ctx.source_format, ctx.source_path.name, ctx.target_format, ctx.options, ctx.output_path.name
        )


@register
class AudioConverter(FfmpegConverter):
    """Audio -> audio, and the first audio track of a video."""

    name = "ffmpeg-audio"
    pairs = _pairs(AUDIO_SOURCES, AUDIO_TARGETS) | _pairs(VIDEO_SOURCES, AUDIO_FROM_VIDEO)

    def options_for(self, source, target):
        rate = _sample_rate(RATES_OF.get(target, SAMPLE_RATES))
        if target in plans.LOSSLESS_AUDIO:
            return (rate, CHANNELS)
        return (QUALITY, AUDIO_BITRATE, rate, CHANNELS)

    def check_streams(self, info, ctx):
        if info.audio is None:
            raise ConversionFailed("This file has no audio track to convert or extract.", code="no_audio_stream")

    def plan(self, info, ctx):
        return plans.audio_plan(
            info, ctx.source_format, ctx.source_path.name, ctx.target_format, ctx.options, ctx.output_path.name
        )


_AT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(%|s)?\s*$")


def parse_at(text):
    """'12.5' or '12.5s' -> (12.5, False); '10%' -> (10.0, True); None when malformed."""
    match = _AT.match(str(text))
    if not match:
        return None
    return float(match.group(1)), match.group(2) == "%"


@register
class ThumbnailConverter(FfmpegConverter):
    """One frame of a video as JPG or PNG (default: at 10% of its length)."""

    name = "ffmpeg-thumbnail"
    pairs = _pairs(VIDEO_SOURCES, THUMBNAIL_TARGETS)
    options = (
        Param("at", str, "When to take the frame: seconds ('12.5') or a share of the length ('25%')", default="10%",
               label="Moment of the frame"),
        Param("width", int, "Leave empty to keep the video's size; the height follows", min=16, max=7680,
               label="Width (pixels)"),
    )
    tracks_progress = False

    def clean_options(self, source, target, raw):
        cleaned = super().clean_options(source, target, raw)
        parsed = parse_at(cleaned["at"])
        if parsed is None or (parsed[1] and parsed[0] > 100):
            raise BadRequest(
                f"{source} -> {target}: 'at' must be seconds (e.g. '12.5') or a percentage up to 100% "
                f"(e.g. '25%'); got {cleaned['at']!r}.",
                code="invalid_option",
            )
        return cleaned

    def check_streams(self, info, ctx):
        if info.video is None:
            raise ConversionFailed("This file has no video stream to take a picture from.", code="no_video_stream")

    def plan(self, info, ctx):
        value, percent = parse_at(ctx.options.get("at", "10%"))
        at = info.duration * value / 100 if percent else value
        if at >= info.duration:
            raise ConversionFailed(
                f"'at' is {at:.2f} s but the video lasts only {info.duration:.2f} s; choose an earlier moment.",
                code="invalid_option",
            )
        # The last frames may sit before the declared end: stay a frame's length inside it.
        at = min(at, max(0.0, info.duration - 1 / (info.video.fps or 25)))
        return plans.thumbnail_plan(
            info, ctx.source_format, ctx.source_path.name, ctx.target_format, at, ctx.options, ctx.output_path.name
        )
