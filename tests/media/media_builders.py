"""Real media files for the tests, made by ffmpeg from lavfi sources (and a few crafted by hand)."""

import json
import os
import struct
import subprocess
from pathlib import Path

VIDEO = "testsrc=size=160x120:rate=25:duration={s}"
AUDIO = "sine=frequency=440:sample_rate=44100:duration={s}"

# Source format -> encoder arguments (container chosen by -f).
VIDEO_SAMPLES = {
    "mp4": (["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"], "mp4"),
    "webm": (["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8", "-c:a", "libopus"], "webm"),
    "mkv": (["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"], "matroska"),
    "mov": (["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"], "mov"),
    "avi": (["-c:v", "mpeg4", "-c:a", "libmp3lame"], "avi"),
    "flv": (["-c:v", "flv", "-c:a", "libmp3lame"], "flv"),
    "wmv": (["-c:v", "wmv2", "-c:a", "wmav2"], "asf"),
    "mpeg": (["-c:v", "mpeg2video", "-c:a", "mp2"], "mpeg"),
    "m4v": (["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"], "mp4"),
    "3gp": (["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ar", "16000", "-ac", "1"], "3gp"),
    "ogv": (["-c:v", "libtheora", "-c:a", "libvorbis"], "ogg"),
    "ts": (["-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac"], "mpegts"),
}

AUDIO_SAMPLES = {
    "mp3": (["-c:a", "libmp3lame"], "mp3"),
    "wav": (["-c:a", "pcm_s16le"], "wav"),
    "flac": (["-c:a", "flac"], "flac"),
    "ogg": (["-c:a", "libvorbis"], "ogg"),
    "opus": (["-c:a", "libopus"], "opus"),
    "aac": (["-c:a", "aac"], "adts"),
    "m4a": (["-c:a", "aac"], "ipod"),
    "wma": (["-c:a", "wmav2"], "asf"),
    "aiff": (["-c:a", "pcm_s16be"], "aiff"),
    "ac3": (["-c:a", "ac3"], "ac3"),
    "mp2": (["-c:a", "mp2"], "mp2"),
    "au": (["-c:a", "pcm_s16be"], "au"),
    "mka": (["-c:a", "flac"], "matroska"),
}


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", *map(str, args)], check=True)


def make_video(path, *, seconds=1, size="160x120", vcodec=None, acodec=("-c:a", "aac"), muxer="mp4", pattern="testsrc"):
    src = ["-f", "lavfi", "-i", f"{pattern}=size={size}:rate=25:duration={seconds}",
           "-f", "lavfi", "-i", AUDIO.format(s=seconds)]
    vcodec = vcodec or ["-c:v", "libx264", "-pix_fmt", "yuv420p"]
    ffmpeg(*src, *vcodec, "-pix_fmt", "yuv420p", *acodec, "-f", muxer, path)
    return Path(path)


def make_amr(path, seconds=1):
    """AMR-NB by hand (Debian's ffmpeg has no AMR encoder): magic + 12.2 kbit/s frames of 20 ms."""
    frame = bytes([0x3C]) + bytes(31)
    Path(path).write_bytes(b"#!AMR\n" + frame * int(seconds * 50))
    return Path(path)


def build_all(folder):
    folder = Path(folder)
    for fmt, (codecs, muxer) in VIDEO_SAMPLES.items():
        ffmpeg("-f", "lavfi", "-i", VIDEO.format(s=1), "-f", "lavfi", "-i", AUDIO.format(s=1), *codecs, "-f", muxer,
               folder / f"sample.{fmt}")
    for fmt, (codecs, muxer) in AUDIO_SAMPLES.items():
        ffmpeg("-f", "lavfi", "-i", AUDIO.format(s=1), *codecs, "-f", muxer, folder / f"sample.{fmt}")
    make_amr(folder / "sample.amr")
    return folder


def claims_ten_hours(path, source):
    """A ~15-20 KB Matroska file whose Segment Duration says 10 hours."""
    data = bytearray(Path(source).read_bytes())
    at = data.find(b"\x44\x89\x88")  # Duration element, 8-byte float, in ms
    assert at > 0, "no Duration element"
    data[at + 3:at + 11] = struct.pack(">d", 10 * 3600 * 1000.0)
    Path(path).write_bytes(bytes(data))
    return Path(path)


def ffprobe(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_format", "-show_streams", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out)


def ffmpeg_processes(marker):
    """PIDs of live ffmpeg processes whose command line mentions `marker` (a job's work dir)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(f"/proc/{entry}/cwd")
        except OSError:
            continue
        if cmdline and cmdline[0].endswith(b"ffmpeg") and marker in cwd:
            found.append(int(entry))
    return found
