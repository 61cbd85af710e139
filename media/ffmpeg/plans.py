"""ffmpeg command lines: which streams to copy, which to encode, and how.

A plan is built from the probe, the target and the validated options. A
stream whose codec already fits the target container, and whose options ask
for no change, is copied (a remux: seconds instead of minutes); the rest is
encoded with the target's default codec. The benchmark builds its raw ffmpeg
command from the same plan, so both run the same arguments.
"""

from dataclasses import dataclass

from media import quality
from media.ffmpeg.probe import input_args

VIDEO_OPTION_NAMES = ("crf", "videoBitrate", "width", "height", "fps")  # `preset` alone keeps a copy
AUDIO_OPTION_NAMES = ("audioBitrate", "sampleRate", "channels")


@dataclass(frozen=True)
class Target:
    muxer: str
    video: str = ""  # default video encoder family ("" = audio-only target)
    audio: str = ""
    copy_video: frozenset = frozenset()
    copy_audio: frozenset = frozenset()
    faststart: bool = False


_MP4_AUDIO = frozenset({"aac", "mp3"})
# MPEG-1/2 video is re-encoded: program streams often lack the timestamps Matroska needs.
_MKV_VIDEO = frozenset({"h264", "hevc", "vp8", "vp9", "av1", "mpeg4", "theora"})
_MKV_AUDIO = frozenset({"aac", "mp3", "mp2", "opus", "vorbis", "flac", "ac3", "eac3", "alac", "pcm_s16le", "pcm_s24le"})

VIDEO_TARGETS = {
    "mp4": Target("mp4", "h264", "aac", frozenset({"h264", "hevc", "mpeg4", "av1"}), _MP4_AUDIO, faststart=True),
    "mov": Target("mov", "h264", "aac", frozenset({"h264", "hevc", "mpeg4", "mjpeg", "prores"}),
                  _MP4_AUDIO | {"pcm_s16le", "pcm_s16be", "alac"}, faststart=True),
    "mkv": Target("matroska", "h264", "aac", _MKV_VIDEO, _MKV_AUDIO),
    "webm": Target("webm", "vp9", "opus", frozenset({"vp8", "vp9", "av1"}), frozenset({"opus", "vorbis"})),
    "avi": Target("avi", "mpeg4", "mp3", frozenset({"mpeg4", "msmpeg4v3", "mjpeg"}), frozenset({"mp3", "pcm_s16le", "ac3"})),
    "m4v": Target("mp4", "h264", "aac", frozenset({"h264", "hevc", "mpeg4"}), _MP4_AUDIO, faststart=True),
    "3gp": Target("3gp", "h264", "aac", frozenset({"h264"}), frozenset({"aac"}), faststart=True),
    "flv": Target("flv", "h264", "aac", frozenset({"h264"}), frozenset({"aac", "mp3"})),
    "ts": Target("mpegts", "h264", "aac", frozenset({"h264", "hevc", "mpeg2video"}), frozenset({"aac", "mp3", "mp2", "ac3"})),
    "mpeg": Target("mpeg", "mpeg2video", "mp2", frozenset({"mpeg2video", "mpeg1video"}), frozenset({"mp2", "mp3", "ac3"})),
    "wmv": Target("asf", "wmv2", "wmav2", frozenset({"wmv2", "wmv1"}), frozenset({"wmav2", "wmav1"})),
    "ogv": Target("ogg", "theora", "vorbis", frozenset({"theora"}), frozenset({"vorbis", "opus", "flac"})),
}

AUDIO_TARGETS = {
    "mp3": Target("mp3", audio="mp3", copy_audio=frozenset({"mp3"})),
    "wav": Target("wav", audio="pcm_s16le", copy_audio=frozenset({"pcm_s16le"})),
    "flac": Target("flac", audio="flac", copy_audio=frozenset({"flac"})),
    "ogg": Target("ogg", audio="vorbis", copy_audio=frozenset({"vorbis"})),
    "opus": Target("opus", audio="opus", copy_audio=frozenset({"opus"})),
    "m4a": Target("ipod", audio="aac", copy_audio=frozenset({"aac"}), faststart=True),
    "aac": Target("adts", audio="aac", copy_audio=frozenset({"aac"})),
    "aiff": Target("aiff", audio="pcm_s16be", copy_audio=frozenset({"pcm_s16be"})),
    "wma": Target("asf", audio="wmav2", copy_audio=frozenset({"wmav2"})),
    "ac3": Target("ac3", audio="ac3", copy_audio=frozenset({"ac3"})),
    "mp2": Target("mp2", audio="mp2", copy_audio=frozenset({"mp2"})),
    "au": Target("au", audio="pcm_s16be", copy_audio=frozenset({"pcm_s16be"})),
    "mka": Target("matroska", audio="flac", copy_audio=_MKV_AUDIO),
}

QSCALE_TARGETS = ("avi", "wmv", "mpeg", "ogv")
LOSSLESS_AUDIO = ("wav", "flac", "aiff", "au", "mka")

# Defaults a person comparing outputs would pick (bench/encoders.py, issue 12): on the 720p
# test clip VP9 good/cpu-used 4 at crf 29 matches ffmpeg's libvpx-vp9 defaults (cpu-used 0)
# in SSIM at ~1.2x the size in ~0.3x the CPU time; x264 veryfast at crf 21 beats its own
# defaults (medium, crf 23) in SSIM at ~1.1x the size in ~0.5x the time. The earlier
# realtime/cpu-used 8 VP9 was 7x faster but 2.4x larger and visibly worse.
CRF_DEFAULT = {"h264": 21, "vp9": 29}
# `preset`: encode speed against file size at the same crf (quality).
PRESETS = ("faster", "balanced", "smaller")
X264_PRESET = {"faster": "superfast", "balanced": "veryfast", "smaller": "slow"}
VP9_SPEED = {  # (deadline, cpu-used)
    "faster": ("realtime", "8"),
    "balanced": ("good", "4"),
    "smaller": ("good", "2"),
}
AUDIO_BITRATE_DEFAULT = {"aac": 160, "opus": 128, "mp3": 192, "wmav2": 160, "ac3": 192, "mp2": 192}
MPEG4_QSCALE_DEFAULT = 4
VORBIS_QUALITY_DEFAULT = 5
# The `quality` words (media/quality.py) per encoder; "balanced" is the default above.
QUALITY_CRF = {"smaller": {"h264": 28, "vp9": 40}, "best": {"h264": 18, "vp9": 24}}
QUALITY_MPEG4_QSCALE = {"smaller": 8, "best": 2}
QUALITY_AUDIO_BITRATE = {
    "smaller": {"aac": 96, "opus": 64, "mp3": 128, "wmav2": 96, "ac3": 128, "mp2": 128},
    "best": {"aac": 256, "opus": 192, "mp3": 320, "wmav2": 192, "ac3": 384, "mp2": 320},
}
QUALITY_VORBIS = {"smaller": 3, "best": 8}
# Encoders with a quantizer scale rather than a crf: MPEG-4 part 2 for AVI, WMV, MPEG-2, Theora.
QSCALE_VIDEO = {
    "mpeg4": ["-c:v", "mpeg4", "-vtag", "xvid", "-pix_fmt", "yuv420p"],
    "wmv2": ["-c:v", "wmv2", "-pix_fmt", "yuv420p"],
    "mpeg2video": ["-c:v", "mpeg2video", "-pix_fmt", "yuv420p"],
    "theora": ["-c:v", "libtheora", "-pix_fmt", "yuv420p"],
}
# Theora's scale runs the other way: 0 (worst) to 10 (best).
QUALITY_THEORA = {"smaller": 5, "best": 9}
THEORA_QUALITY_DEFAULT = 7
# MP3 below 32 kHz (MPEG-2/2.5) and AAC at 8-16 kHz have 36-128 ms frames and patchy player support.
# AC-3 stops at 32 kHz and MP2 below it is MPEG-2 audio few players read: both are resampled too.
LOW_RATE_CODECS = ("mp3", "aac", "ac3", "mp2")
LOW_RATE_LIMIT = 32000


def video_encoder_args(codec, opts):
    preset = opts.get("preset", "balanced")
    if codec == "h264":
        args = ["-c:v", "libx264", "-preset", X264_PRESET[preset], "-pix_fmt", "yuv420p"]
    elif codec == "vp9":
        deadline, cpu_used = VP9_SPEED[preset]
        args = ["-c:v", "libvpx-vp9", "-deadline", deadline, "-cpu-used", cpu_used, "-row-mt", "1", "-pix_fmt", "yuv420p"]
    else:  # what older players read
        args = list(QSCALE_VIDEO[codec])
    if opts.get("videoBitrate"):
        return [*args, "-b:v", f"{opts['videoBitrate']}k"]
    words = quality.level(opts)
    if codec == "theora":
        return [*args, "-q:v", str(QUALITY_THEORA.get(words, THEORA_QUALITY_DEFAULT))]
    if codec in QSCALE_VIDEO:
        return [*args, "-q:v", str(QUALITY_MPEG4_QSCALE.get(words, MPEG4_QSCALE_DEFAULT))]
    crf = opts.get("crf", QUALITY_CRF.get(words, CRF_DEFAULT)[codec])
    return [*args, "-crf", str(crf)] + (["-b:v", "0"] if codec == "vp9" else [])


def audio_encoder_args(codec, opts, source_rate=0):
    encoder = {"aac": "aac", "opus": "libopus", "mp3": "libmp3lame", "vorbis": "libvorbis"}.get(codec, codec)
    args = ["-c:a", encoder]
    words = quality.level(opts)
    if codec in AUDIO_BITRATE_DEFAULT:
        bitrate = QUALITY_AUDIO_BITRATE.get(words, AUDIO_BITRATE_DEFAULT)[codec]
        args += ["-b:a", f"{opts.get('audioBitrate', bitrate)}k"]
    elif codec == "vorbis":
        # Quality mode: a fixed bitrate fails libvorbis' setup at low sample rates.
        vorbis = QUALITY_VORBIS.get(words, VORBIS_QUALITY_DEFAULT)
        args += ["-b:a", f"{opts['audioBitrate']}k"] if opts.get("audioBitrate") else ["-q:a", str(vorbis)]
    if opts.get("sampleRate"):
        args += ["-ar", str(opts["sampleRate"])]
    elif codec in LOW_RATE_CODECS and 0 < source_rate < LOW_RATE_LIMIT:
        args += ["-ar", "44100"]
    if opts.get("channels"):
        args += ["-ac", str(opts["channels"])]
    return args


def video_filters(opts):
    filters = []
    if opts.get("width") or opts.get("height"):
        filters.append(f"scale={opts.get('width', -2)}:{opts.get('height', -2)}")
    if opts.get("fps"):
        filters.append(f"fps={opts['fps']}")
    return filters


def _asks_for_change(opts, names):
    """True when a stream that fits the target must still be encoded.

    A smaller file needs an encode; "best" keeps a fitting stream as it is,
    since no encode of it can look better than the stream itself.
    """
    return any(opts.get(k) for k in names) or quality.level(opts) == "smaller"


@dataclass
class Plan:
    argv: list
    copied: tuple  # stream kinds copied rather than encoded

    @property
    def remux(self):
        return bool(self.copied)


def _head(source_fmt, source_name, before=()):
    return ["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", *input_args(source_fmt, source_name, before=before)]


def _tail(target, output_name):
    args = ["-max_muxing_queue_size", "1024"]
    if target.faststart:
        args += ["-movflags", "+faststart"]
    return [*args, "-f", target.muxer, f"file:{output_name}"]


def video_plan(info, source_fmt, source_name, target_fmt, opts, output_name, extra=()):
    """Video (with its first audio track) into a video container."""
    target = VIDEO_TARGETS[target_fmt]
    args, copied = ["-sn", "-dn", "-map_chapters", "-1"], []
    video, audio = info.video, info.audio
    if video is not None:
        args += ["-map", f"0:{video.index}"]
        if video.codec in target.copy_video and not _asks_for_change(opts, VIDEO_OPTION_NAMES):
            args += ["-c:v", "copy"] + (["-tag:v", "hvc1"] if video.codec == "hevc" and target.faststart else [])
            copied.append("video")
        else:
            filters = video_filters(opts)
            args += (["-vf", ",".join(filters)] if filters else []) + video_encoder_args(target.video, opts)
    if audio is not None:
        args += ["-map", f"0:{audio.index}"]
        if audio.codec in target.copy_audio and not _asks_for_change(opts, AUDIO_OPTION_NAMES):
            args += ["-c:a", "copy"]
            copied.append("audio")
        else:
            args += audio_encoder_args(target.audio, opts, audio.sample_rate)
    return Plan(_head(source_fmt, source_name) + [*extra, *args] + _tail(target, output_name), tuple(copied))


def audio_plan(info, source_fmt, source_name, target_fmt, opts, output_name, extra=()):
    """The first audio track alone (video, cover art, subtitles dropped)."""
    target = AUDIO_TARGETS[target_fmt]
    args = ["-vn", "-sn", "-dn", "-map", f"0:{info.audio.index}", "-map_metadata", "0"]
    if info.audio.codec in target.copy_audio and not _asks_for_change(opts, AUDIO_OPTION_NAMES):
        args += ["-c:a", "copy"]
        copied = ("audio",)
    else:
        args += audio_encoder_args(target.audio, opts, info.audio.sample_rate)
        copied = ()
    return Plan(_head(source_fmt, source_name) + [*extra, *args] + _tail(target, output_name), copied)


def gif_plan(info, source_fmt, source_name, opts, output_name, extra=()):
    """A palette made from the clip itself (one pass, split graph) then dithered onto it."""
    width = opts.get("width") or min(480, info.video.width or 480)
    graph = (
        f"[0:{info.video.index}]fps={opts.get('fps', 10)},scale={width}:-1:flags=lanczos,split[a][b];"
        "[a]palettegen=stats_mode=diff[p];[b][p]paletteuse=dither=bayer:bayer_scale=5"
    )
    args = ["-filter_complex", graph, "-loop", "0"]
    return Plan(_head(source_fmt, source_name) + [*extra, *args, "-f", "gif", f"file:{output_name}"], ())


def thumbnail_plan(info, source_fmt, source_name, target_fmt, at_seconds, opts, output_name):
    """One frame at `at_seconds` (input-side seek: fast, lands on the frame at or after it)."""
    args = ["-map", f"0:{info.video.index}", "-frames:v", "1", "-update", "1", "-an", "-sn"]
    if opts.get("width"):
        args += ["-vf", f"scale={opts['width']}:-1"]
    args += ["-c:v", "mjpeg", "-q:v", "2", "-pix_fmt", "yuvj420p"] if target_fmt == "jpg" else ["-c:v", "png"]
    head = _head(source_fmt, source_name, before=["-ss", f"{at_seconds:.3f}"])
    return Plan(head + args + ["-f", "image2", f"file:{output_name}"], ())
