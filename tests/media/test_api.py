"""The media queue end to end through the public API: upload, run, download, ffprobe the result."""

import pytest

from conversions.models import Job
from tests.builders import upload
from tests.media.helpers import codec, duration, kinds
from tests.media.media_builders import ffprobe, make_video

pytestmark = pytest.mark.django_db


def test_mp4_to_webm_through_the_api_downloads_a_playable_vp9_opus_file(api, run_jobs, ffmpeg, tmp_path):
    clip = make_video(tmp_path / "clip.mp4", seconds=2)
    with run_jobs():
        resp = api.post("/api/v1/convert", {"file": upload("clip.mp4", clip.read_bytes()), "targetFormat": "webm"},
                        format="multipart")
    assert resp.status_code == 202, resp.content
    job_id = resp.json()["jobId"]

    status = api.get(f"/api/v1/status/{job_id}").json()
    assert status["status"] == "succeeded", status
    assert status["progress"] == 100
    assert status["result"]["filename"] == "clip.webm"
    assert status["result"]["contentType"] == "video/webm"

    download = api.get(f"/api/v1/download/{job_id}")
    assert download.status_code == 200
    out = tmp_path / "downloaded.webm"
    out.write_bytes(b"".join(download.streaming_content))
    info = ffprobe(out)
    assert "webm" in info["format"]["format_name"]
    assert kinds(info) == ["video", "audio"]
    assert (codec(info, "video"), codec(info, "audio")) == ("vp9", "opus")
    assert abs(duration(info) - duration(ffprobe(clip))) <= 0.1

    job = Job.objects.get(pk=job_id)
    assert (job.family, job.converter) == ("media", "ffmpeg-video")
    assert job.output_key == f"outputs/{job_id}/result.webm"
    assert [e.kind for e in job.events.all()] == ["created", "started", "succeeded"]


def test_the_first_audio_track_of_a_video_through_the_api(api, run_jobs, media_dir, tmp_path):
    with run_jobs():
        resp = api.post("/api/convert", {"file": upload("talk.mov", (media_dir / "sample.mov").read_bytes()),
                                         "targetFormat": "mp3", "options": '{"audioBitrate": 96, "channels": 1}'},
                        format="multipart")
    job_id = resp.json()["jobId"]
    assert api.get(f"/api/status/{job_id}").json()["status"] == "succeeded"
    out = tmp_path / "talk.mp3"
    out.write_bytes(b"".join(api.get(f"/api/download/{job_id}").streaming_content))
    info = ffprobe(out)
    assert kinds(info) == ["audio"] and codec(info, "audio") == "mp3"
    assert info["streams"][0]["channels"] == 1 and int(info["streams"][0]["bit_rate"]) == 96000
