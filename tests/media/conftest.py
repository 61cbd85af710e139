"""Media fixtures: short clips made by ffmpeg itself from its lavfi test sources."""

import shutil
import subprocess

import pytest

from tests import services
from tests.media import media_builders


@pytest.fixture(scope="session")
def ffmpeg():
    services.require(shutil.which("ffmpeg") and shutil.which("ffprobe"), "ffmpeg/ffprobe are not installed")
    return shutil.which("ffmpeg")


@pytest.fixture(scope="session")
def media_dir(ffmpeg, tmp_path_factory):
    """One 1-second sample of every audio and video source format."""
    folder = tmp_path_factory.mktemp("media")
    media_builders.build_all(folder)
    return folder


@pytest.fixture(scope="session")
def long_clip(ffmpeg, tmp_path_factory):
    """A clip long enough (30 s of 720p) for progress to be seen rising and a cancel to land mid-way."""
    path = tmp_path_factory.mktemp("long") / "long.mp4"
    # 30 s: on a quiet machine a 15 s clip converted too fast to show three steps.
    media_builders.make_video(path, seconds=30, size="1280x720", pattern="testsrc2",
                              vcodec=["-c:v", "libx264", "-preset", "ultrafast", "-crf", "28"])
    return path


def ffprobe(path):
    return media_builders.ffprobe(path)


@pytest.fixture
def no_ffmpeg_left():
    """Yields a checker: no ffmpeg process of ours (cwd under the work dir) still alive."""
    return media_builders.ffmpeg_processes


__all__ = ["ffprobe", "subprocess"]
