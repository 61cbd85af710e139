"""Run an audio/video operation chain as one sandboxed ffmpeg command.

Hardened as DESIGN.md asks: `-protocol_whitelist file`, an explicit demuxer
chosen from the sniffed format, only the first video and audio streams
mapped. The file passes the media conversions' own probe and caps
(duration, size, frames) first, and ffmpeg runs with their limits
(timeout, CPU, MEDIA_MEMORY_MB), cut to the job's budget.
"""

import json
import logging
import re

from conversions.engine import formats
from conversions.errors import ConversionFailed
from filters.av_ops import Loudnorm
from media.ffmpeg import plans, probe as media_probe
from media.ffmpeg.progress import ProgressWatcher

logger = logging.getLogger(__name__)

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

# The media conversions' one table (sniffed format -> ffmpeg demuxer).
DEMUXERS = media_probe.DEMUXERS
# The encoders, muxers and their defaults are the media conversions' (media/ffmpeg/plans.py): each target's
# video and audio encoder at the balanced quality. Only the crf a chain may set is the filters' own.
VIDEO_TARGETS = tuple(plans.VIDEO_TARGETS)
# What the filter pages offer as sound-only results (plans.AUDIO_TARGETS has a few more the filters leave out).
AUDIO_TARGETS = ("mp3", "wav", "flac", "ogg", "opus", "aac", "m4a", "aiff", "wma")
FRAME_TARGETS = ("jpg", "png", "webp")


class AvState:
    """What the stream looks like after the operations so far."""

    def __init__(self, info, workdir):
        self.duration = info["duration"]
        self.width, self.height = info.get("width") or 0, info.get("height") or 0
        self.sample_rate = info.get("sample_rate") or 48000
        self.channels = info.get("channels") or 2
        self.has_video, self.has_audio = info["has_video"], info["has_audio"]
        self.vf, self.af = [], []
        self.mute = False
        self.crf = None
        self.thumbnail_at = None
        self.font = FONT
        self.workdir = workdir
        self._texts = 0

    def video(self, *filters):
        self.vf.extend(filters)

    def audio(self, *filters):
        self.af.extend(filters)

    def write_text(self, text):
        self._texts += 1
        name = f"watermark-{self._texts}.txt"
        (self.workdir / name).write_text(text, encoding="utf-8")
        return name

    def fail(self, message):
        raise ConversionFailed(message, code="invalid_operation")


def probe(ctx, path, fmt):
    """What the file holds, through the media conversions' own ffprobe and caps (duration, size, frames)."""
    info = media_probe.probe(ctx, fmt, path=path)
    media_probe.check_caps(info, fmt)
    video, audio = info.video, info.audio
    found = {"duration": info.duration, "has_video": video is not None, "has_audio": audio is not None}
    if video is not None:
        found.update(width=video.width, height=video.height)
    if audio is not None:
        found.update(sample_rate=audio.sample_rate, channels=audio.channels)
    return found


def run_av_chain(ctx, src_path, src_fmt, target, ops, family, step):
    from filters.vocabulary import operations

    info = probe(ctx, src_path, src_fmt)
    state = AvState(info, ctx.workdir)
    for index, params in enumerate(ops):
        operations.get(family, params["op"]).apply(state, params)
        step(index, len(ops))
    out_fmt = target
    if state.thumbnail_at is not None and target not in FRAME_TARGETS:
        out_fmt = "jpg"
    if state.has_audio and not state.mute:
        _measure_loudness(ctx, src_path, src_fmt, state)
    out = ctx.workdir / f"filtered.{out_fmt}"
    # The media conversions' progress reader (and its length cap while ffmpeg runs); a thumbnail only ticks.
    watcher = ProgressWatcher(ctx, state.duration) if state.duration and state.thumbnail_at is None else None
    argv = _command(src_path, src_fmt, state, out, out_fmt, watcher.args() if watcher else [])
    ctx.run(argv, **media_probe.run_limits(state.duration), on_tick=watcher.tick if watcher else ctx.tick, tool="ffmpeg")
    return out, out_fmt


def _input(src_path, src_fmt):
    return ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-protocol_whitelist", "file",
            "-f", DEMUXERS.get(src_fmt, src_fmt), "-i", src_path.name]


def _measure_loudness(ctx, src_path, src_fmt, state):
    """First loudnorm pass for each `normalize`, with the filters before it applied."""
    for index, flt in enumerate(state.af):
        if not isinstance(flt, Loudnorm):
            continue
        chain = [str(f) for f in state.af[:index]] + [flt.measure_filter()]
        argv = [*_input(src_path, src_fmt), "-map", "0:a:0", "-af", ",".join(chain), "-f", "null", "-"]
        result = ctx.run(argv, **media_probe.run_limits(state.duration), tool="ffmpeg")
        found = re.findall(r"\{[^{}]*\"input_i\"[^{}]*\}", result.stderr)
        if not found:
            raise ConversionFailed("normalize: could not measure the loudness of this audio.", code="invalid_media")
        flt.measured = json.loads(found[-1])
        if flt.measured.get("input_i") in ("-inf", "inf"):
            raise ConversionFailed("normalize: the audio is silent; there is nothing to normalize.", code="silent_audio")


def _command(src_path, src_fmt, state, out, out_fmt, progress_args):
    argv = [*_input(src_path, src_fmt), *progress_args, "-nostats"]
    frame = state.thumbnail_at is not None
    video_out = state.has_video and (out_fmt in VIDEO_TARGETS or frame)
    audio_out = state.has_audio and not state.mute and not frame
    if video_out:
        argv += ["-map", "0:v:0"]
        if state.vf:
            argv += ["-filter:v", ",".join(state.vf)]
    if audio_out:
        argv += ["-map", "0:a:0"]
        if state.af:
            argv += ["-filter:a", ",".join(str(f) for f in state.af)]
    if not video_out and not audio_out:
        raise ConversionFailed("Nothing would be left of the file (no video and the sound removed).", code="empty_output")
    argv += ["-sn", "-dn", "-map_metadata", "0"]
    if frame:
        argv += ["-ss", f"{state.thumbnail_at}", "-frames:v", "1", "-update", "1"]
        if out_fmt == "jpg":
            argv += ["-q:v", "3"]
    else:
        target = plans.VIDEO_TARGETS.get(out_fmt) or plans.AUDIO_TARGETS[out_fmt]
        if video_out:
            argv += video_args(target.video, state.crf)
        if audio_out:
            argv += plans.audio_encoder_args(target.audio, {}, source_rate=state.sample_rate)
        if target.faststart:
            argv += ["-movflags", "+faststart"]
        return [*argv, "-f", target.muxer, out.name]
    return [*argv, "-f", "image2", out.name]


def is_video_target(fmt):
    return formats.FORMATS[fmt].category == "video"


def video_args(codec, crf):
    """The target's video encoder as media conversions set it, with the chain's crf where it gave one.

    VP9 at its faster preset: a filter chain is an edit people wait for, and
    VP9's balanced preset takes several times as long."""
    opts = {"preset": "faster"} if codec == "vp9" else {}
    if crf is not None and codec in ("h264", "vp9"):
        opts["crf"] = min(crf, 51) if codec == "h264" else crf
    return plans.video_encoder_args(codec, opts)
