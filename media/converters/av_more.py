"""More ffmpeg conversions: clips to animated WebP/APNG, clips to a zip of frames, audio to a
waveform picture, and GIF animations to video. Same probe, caps and sandboxed runner as av.py."""

import zipfile

from django.conf import settings

from conversions.engine.registry import Param, register
from conversions.errors import ConversionFailed
from media.ffmpeg.plans import Plan, _head, video_encoder_args

from .av import AUDIO_SOURCES, VIDEO_SOURCES, FfmpegConverter, _pairs

ANIMATED_TARGETS = ("webp", "apng")
ANIMATION_SOURCES = ("gif",)  # ffprobe reads no length from an APNG: it is a target only
ANIMATION_VIDEO_TARGETS = ("mp4", "webm")
MAX_FRAMES_IN_ZIP = 300


def _needs_video(info, what):
    if info.video is None:
        raise ConversionFailed(f"This file has no video stream to turn into {what}.", code="no_video_stream")


def _short_enough(info):
    if info.duration > settings.MEDIA_MAX_GIF_SECONDS:
        raise ConversionFailed(
            f"Animations are made from clips up to {settings.MEDIA_MAX_GIF_SECONDS} s; this one lasts "
            f"{info.duration:.0f} s. Trim it first.", code="media_too_long")


@register
class AnimationConverter(FfmpegConverter):
    """A clip as a looping animated WebP or APNG (like the GIF target, with full colour)."""

    name = "ffmpeg-animation"
    pairs = _pairs(VIDEO_SOURCES, ANIMATED_TARGETS)
    options = (Param("width", int, "Width in pixels (default: up to 480)", min=16, max=1280),
               Param("fps", int, "Frames per second", default=10, min=1, max=30))

    def check_streams(self, info, ctx):
        _needs_video(info, "an animation")
        _short_enough(info)

    def plan(self, info, ctx):
        width = ctx.options.get("width") or min(480, info.video.width or 480)
        vf = f"fps={ctx.options.get('fps', 10)},scale={width}:-2:flags=lanczos"
        if ctx.target_format == "webp":
            codec = ["-c:v", "libwebp", "-lossless", "0", "-q:v", "75", "-loop", "0", "-f", "webp"]
        else:
            codec = ["-c:v", "apng", "-plays", "0", "-f", "apng"]
        args = ["-map", f"0:{info.video.index}", "-an", "-sn", "-vf", vf, *codec]
        return Plan(_head(ctx.source_format, ctx.source_path.name) + args + [f"file:{ctx.output_path.name}"], ())


@register
class FramesConverter(FfmpegConverter):
    """A clip as a zip of PNG frames (one a second by default)."""

    name = "ffmpeg-frames"
    pairs = _pairs(VIDEO_SOURCES, ("zip",))
    options = (Param("fps", float, "Frames taken per second of video", default=1.0, min=0.01, max=30),)

    def check_streams(self, info, ctx):
        _needs_video(info, "frames")
        frames = info.duration * ctx.options.get("fps", 1.0)
        if frames > MAX_FRAMES_IN_ZIP:
            raise ConversionFailed(
                f"That would be about {frames:.0f} frames; at most {MAX_FRAMES_IN_ZIP} are zipped. "
                "Lower 'fps' or trim the clip.", code="invalid_option")

    def plan(self, info, ctx):
        (ctx.workdir / "frames").mkdir()
        args = ["-map", f"0:{info.video.index}", "-an", "-sn", "-vf", f"fps={ctx.options.get('fps', 1.0)}",
                "-frames:v", str(MAX_FRAMES_IN_ZIP), "-c:v", "png", "-f", "image2", "file:frames/frame-%04d.png"]
        return Plan(_head(ctx.source_format, ctx.source_path.name) + args, ())

    def convert(self, ctx):
        super().convert(ctx)
        frames = sorted((ctx.workdir / "frames").glob("frame-*.png"))
        if not frames:
            raise ConversionFailed("No frame could be taken from this video.", code="empty_output")
        with zipfile.ZipFile(ctx.output_path, "w", zipfile.ZIP_STORED) as zf:  # PNG is compressed already
            for frame in frames:
                zf.write(frame, frame.name)
        return ctx.output_path


@register
class WaveformConverter(FfmpegConverter):
    """The first audio track drawn as a waveform picture."""

    name = "ffmpeg-waveform"
    pairs = _pairs(AUDIO_SOURCES, ("png",))
    options = (Param("width", int, "Picture width in pixels", default=1200, min=100, max=4000),
               Param("height", int, "Picture height in pixels", default=240, min=40, max=2000))
    tracks_progress = False

    def check_streams(self, info, ctx):
        if info.audio is None:
            raise ConversionFailed("This file has no audio track to draw.", code="no_audio_stream")

    def plan(self, info, ctx):
        size = f"{ctx.options.get('width', 1200)}x{ctx.options.get('height', 240)}"
        graph = f"[0:{info.audio.index}]showwavespic=s={size}:split_channels=0:colors=0x1f6feb[w]"
        args = ["-filter_complex", graph, "-map", "[w]", "-frames:v", "1", "-c:v", "png", "-f", "image2"]
        return Plan(_head(ctx.source_format, ctx.source_path.name) + args + [f"file:{ctx.output_path.name}"], ())


@register
class AnimationToVideoConverter(FfmpegConverter):
    """A GIF animation as a small H.264 MP4 or VP9 WebM (even sizes, no audio)."""

    name = "ffmpeg-animation-video"
    pairs = _pairs(ANIMATION_SOURCES, ANIMATION_VIDEO_TARGETS)

    def check_streams(self, info, ctx):
        _needs_video(info, "a video")

    def plan(self, info, ctx):
        if ctx.target_format == "mp4":
            codec = [*video_encoder_args("h264", {"crf": 23}), "-movflags", "+faststart", "-f", "mp4"]
        else:
            codec = [*video_encoder_args("vp9", {"preset": "faster", "crf": 33}), "-f", "webm"]
        vf = "scale=trunc(iw/2)*2:trunc(ih/2)*2"
        args = ["-map", f"0:{info.video.index}", "-an", "-vf", vf, *codec]
        return Plan(_head(ctx.source_format, ctx.source_path.name) + args + [f"file:{ctx.output_path.name}"], ())
