"""Real inputs for the filter tests, made by the tools themselves, and a submit helper."""

import io
import json
import re
import shutil
import subprocess

import pytest
from PIL import Image

from tests import services
from tests.builders import upload


def ffmpeg(*args):
    subprocess.run(["ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y", *map(str, args)], check=True)


def probe(path, entries="format=duration"):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", entries, "-of", "json", str(path)],
        capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out)


def duration(path):
    return float(probe(path)["format"]["duration"])


def stream(path, kind):
    data = probe(path, "stream=codec_type,width,height,sample_rate,channels,r_frame_rate")
    found = [s for s in data["streams"] if s["codec_type"] == kind]
    return found[0] if found else None


def loudness(path):
    """Integrated loudness (LUFS) as ffmpeg's ebur128 filter measures it."""
    err = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128", "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    ).stderr
    return float(re.findall(r"I:\s+(-?[\d.]+) LUFS", err)[-1])


def pdfinfo(path, last=20):
    out = subprocess.run(["pdfinfo", "-f", "1", "-l", str(last), str(path)], capture_output=True, text=True, check=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))
    rotations = [int(r) for r in re.findall(r"^Page\s+\d+\s+rot:\s+(\d+)", out, re.M)]
    sizes = [tuple(map(float, s)) for s in re.findall(r"^Page\s+\d+\s+size:\s+([\d.]+) x ([\d.]+)", out, re.M)]
    return pages, rotations, sizes


@pytest.fixture(scope="session")
def tools():
    for tool in ("ffmpeg", "ffprobe", "gs", "pdfinfo", "pdftoppm"):
        services.require(shutil.which(tool), f"{tool} is not installed")


@pytest.fixture(scope="session")
def samples(tools, tmp_path_factory):
    """A photo, a WAV, an MP3, an MP4 and a three-page PDF, made once per run."""
    folder = tmp_path_factory.mktemp("filter-samples")
    photo = Image.radial_gradient("L").resize((640, 480)).convert("RGB")
    photo = Image.merge("RGB", (photo.getchannel(0), Image.linear_gradient("L").resize((640, 480)), photo.getchannel(0).point(lambda v: 255 - v)))
    photo.save(folder / "photo.jpg", quality=90, exif=_exif())
    photo.save(folder / "photo.png")
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100:duration=6", "-af", "volume=-20dB", "-ac", "2",
           folder / "tone.wav")
    ffmpeg("-i", folder / "tone.wav", "-c:a", "libmp3lame", "-q:a", "4", folder / "tone.mp3")
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=4", "-f", "lavfi", "-i",
           "sine=frequency=440:duration=4", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
           "-c:a", "aac", "-shortest", folder / "clip.mp4")
    pages = [Image.new("RGB", (300, 400), c) for c in ((200, 30, 30), (30, 160, 30), (30, 30, 200))]
    pages[0].save(folder / "doc.pdf", save_all=True, append_images=pages[1:])
    Image.new("RGB", (400, 300), (250, 200, 0)).save(folder / "other.pdf")
    return folder


def _exif():
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0131] = "filters-test"  # Software
    return exif


class Submitter:
    def __init__(self, api, run_jobs, samples):
        self.api, self.run_jobs, self.samples = api, run_jobs, samples
        self.runs = 0

    def post(self, names, operations, target=None, path="/api/v1/filter", query="", **extra):
        names = [names] if isinstance(names, str) else names
        files = [upload(n, (self.samples / n).read_bytes()) for n in names]
        environ = {k: v for k, v in extra.items() if k.isupper()}  # e.g. REMOTE_ADDR
        data = {"file": files if len(files) > 1 else files[0], **{k: v for k, v in extra.items() if not k.isupper()}}
        if operations is not None:
            data["operations"] = operations if isinstance(operations, str) else json.dumps(operations)
        if target:
            data["targetFormat"] = target
        return self.api.post(path + query, data, format="multipart", **environ)

    def run(self, names, operations, target=None, tmp_path=None, **kw):
        """Submit, run the job, and return (status payload, path of the downloaded result)."""
        with self.run_jobs():
            resp = self.post(names, operations, target, **kw)
        assert resp.status_code == 202, resp.json()
        status = self.api.get(resp.json()["statusUrl"]).json()
        assert status["status"] == "succeeded", status
        download = self.api.get(resp.json()["downloadUrl"])
        assert download.status_code == 200
        body = b"".join(download.streaming_content)
        self.runs += 1
        folder = tmp_path / f"run-{self.runs}"
        folder.mkdir()
        out = folder / status["result"]["filename"]
        out.write_bytes(body)
        return status, out


@pytest.fixture
def submit(api, run_jobs, samples):
    return Submitter(api, run_jobs, samples)


def open_image(path):
    return Image.open(io.BytesIO(path.read_bytes()))
