"""Audio and video operations: each adds to one ffmpeg filter graph.

A chain becomes a single ffmpeg run (`av_exec`), so five operations cost one
decode and one encode. Operations keep an `AvState` (duration, size, sample
rate...) up to date so that later ones can use it: a fade-out needs the
duration after a trim and a speed change.
"""

from filters.vocabulary import Operation, OperationError, Param, check_resize_box, register

LAYOUTS = {1: "mono", 2: "stereo", 6: "5.1"}
SAMPLE_RATES = (8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000)
POSITIONS = ("center", "top-left", "top-right", "bottom-left", "bottom-right")


class AvOperation(Operation):
    def apply(self, state, p):
        raise NotImplementedError


def register_for(*families):
    """Register one operation class for several families (same name, same meaning)."""

    def wrap(cls):
        for family in families:
            register(type(f"{cls.__name__}_{family}", (cls,), {"family": family}))
        return cls

    return wrap


@register_for("audio", "video")
class Trim(AvOperation):
    name = "trim"
    help = "Keep from `start` to `end` (seconds)."
    params = (Param("start", float, default=0.0, min=0, max=86400), Param("end", float, min=0, max=86400))

    def check(self, p, where):
        if "end" in p and p["end"] <= p["start"]:
            raise OperationError(f"{where}: 'end' must be after 'start'.")

    def apply(self, state, p):
        start, end = p["start"], p.get("end")
        if start >= state.duration:
            state.fail(f"trim: start {start:g}s is past the end of the {state.duration:.2f}s file.")
        span = f"start={start}" + (f":end={end}" if end is not None else "")
        state.video(f"trim={span}", "setpts=PTS-STARTPTS")
        state.audio(f"atrim={span}", "asetpts=PTS-STARTPTS")
        state.duration = min(end if end is not None else state.duration, state.duration) - start


@register_for("audio", "video")
class Volume(AvOperation):
    name = "volume"
    help = "Change the loudness by `db` decibels (negative is quieter)."
    params = (Param("db", float, required=True, min=-60, max=60),)

    def apply(self, state, p):
        state.audio(f"volume={p['db']}dB")


@register_for("audio", "video")
class Normalize(AvOperation):
    name = "normalize"
    help = "EBU R128 loudness normalization (two passes) to `target` LUFS."
    params = (
        Param("target", float, default=-16.0, min=-70, max=-5),
        Param("true_peak", float, default=-1.5, min=-9, max=0),
        Param("lra", float, default=11.0, min=1, max=50),
    )

    def apply(self, state, p):
        # Measured in a first pass by av_exec, then applied linearly.
        state.audio(Loudnorm(p["target"], p["true_peak"], p["lra"]))
        state.audio(f"aresample={state.sample_rate}")


class Loudnorm:
    """A loudnorm filter whose measured values are filled in by a first pass."""

    def __init__(self, target, true_peak, lra):
        self.target, self.true_peak, self.lra = target, true_peak, lra
        self.measured = None

    def measure_filter(self):
        return f"loudnorm=I={self.target}:TP={self.true_peak}:LRA={self.lra}:print_format=json"

    def __str__(self):
        base = f"loudnorm=I={self.target}:TP={self.true_peak}:LRA={self.lra}"
        if not self.measured:
            return base
        m = self.measured
        return (
            f"{base}:measured_I={m['input_i']}:measured_TP={m['input_tp']}:measured_LRA={m['input_lra']}"
            f":measured_thresh={m['input_thresh']}:offset={m['target_offset']}:linear=true"
        )


@register_for("audio", "video")
class Fade(AvOperation):
    name = "fade"
    help = "Fade in over the first `in` seconds and/or out over the last `out` seconds."
    params = (Param("in", float, min=0.01, max=3600), Param("out", float, min=0.01, max=3600))

    def check(self, p, where):
        if "in" not in p and "out" not in p:
            raise OperationError(f"{where}: give 'in' and/or 'out' (seconds).")

    def apply(self, state, p):
        if "in" in p:
            state.audio(f"afade=t=in:st=0:d={p['in']}")
            state.video(f"fade=t=in:st=0:d={p['in']}")
        if "out" in p:
            start = max(0.0, state.duration - p["out"])
            state.audio(f"afade=t=out:st={start:.3f}:d={p['out']}")
            state.video(f"fade=t=out:st={start:.3f}:d={p['out']}")


@register_for("audio", "video")
class Speed(AvOperation):
    name = "speed"
    help = "Play `factor` times as fast (0.25 to 4); the pitch is kept."
    params = (Param("factor", float, required=True, min=0.25, max=4),)

    def apply(self, state, p):
        factor = p["factor"]
        state.video(f"setpts=PTS/{factor}")
        remaining, tempos = factor, []
        # atempo takes 0.5..100 per instance: chain two for slower than half speed.
        while remaining < 0.5:
            tempos.append("atempo=0.5")
            remaining /= 0.5
        tempos.append(f"atempo={remaining:.6g}")
        state.audio(*tempos)
        state.duration /= factor


@register_for("audio", "video")
class Channels(AvOperation):
    name = "channels"
    help = "Mix down or up to 1 (mono), 2 (stereo) or 6 (5.1) channels."
    params = (Param("count", int, required=True, choices=tuple(LAYOUTS)),)

    def apply(self, state, p):
        state.audio(f"aformat=channel_layouts={LAYOUTS[p['count']]}")
        state.channels = p["count"]


@register_for("audio", "video")
class SampleRate(AvOperation):
    name = "sample_rate"
    help = "Resample to `hz`."
    params = (Param("hz", int, required=True, choices=SAMPLE_RATES),)

    def apply(self, state, p):
        state.audio(f"aresample={p['hz']}")
        state.sample_rate = p["hz"]


# --- Video only ---------------------------------------------------------------


class VideoOperation(AvOperation):
    family = "video"


def even(value):
    return max(2, int(value) // 2 * 2)


def fit_box(src_w, src_h, width, height, fit, upscale):
    """(scaled w, scaled h, crop w, crop h) for a contain/cover/fill resize."""
    if fit == "fill":
        w, h = width, height
        if not upscale:
            w, h = min(w, src_w), min(h, src_h)
        return w, h, w, h
    sx = width / src_w if width else None
    sy = height / src_h if height else None
    scales = [s for s in (sx, sy) if s is not None]
    scale = max(scales) if fit == "cover" else min(scales)
    if not upscale:
        scale = min(scale, 1.0)
    w, h = round(src_w * scale), round(src_h * scale)
    if fit == "cover":
        return w, h, min(w, width), min(h, height)
    return w, h, w, h


@register
class VideoResize(VideoOperation):
    name = "resize"
    help = "Scale to fit a box (contain, cover or fill); sizes are rounded to even numbers."
    params = (
        Param("width", int, min=2, max=7680),
        Param("height", int, min=2, max=4320),
        Param("fit", str, default="contain", choices=("contain", "cover", "fill")),
        Param("upscale", bool, default=False),
    )

    def check(self, p, where):
        check_resize_box(p, where)

    def apply(self, state, p):
        w, h, cw, ch = fit_box(state.width, state.height, p.get("width"), p.get("height"), p["fit"], p["upscale"])
        w, h, cw, ch = even(w), even(h), even(cw), even(ch)
        state.video(f"scale={w}:{h}", "setsar=1")
        if (cw, ch) != (w, h):
            state.video(f"crop={cw}:{ch}")
        state.width, state.height = cw, ch


@register
class VideoCrop(VideoOperation):
    name = "crop"
    help = "Keep the rectangle at x, y of width x height (pixels; sizes rounded to even numbers)."
    params = (
        Param("x", int, default=0, min=0, max=100000),
        Param("y", int, default=0, min=0, max=100000),
        Param("width", int, required=True, min=2, max=100000),
        Param("height", int, required=True, min=2, max=100000),
    )

    def apply(self, state, p):
        x, y = min(p["x"], state.width - 2), min(p["y"], state.height - 2)
        w, h = even(min(p["width"], state.width - x)), even(min(p["height"], state.height - y))
        if p["x"] >= state.width or p["y"] >= state.height:
            state.fail(f"crop: {p['x']},{p['y']} lies outside the {state.width}x{state.height} video.")
        state.video(f"crop={w}:{h}:{x}:{y}")
        state.width, state.height = w, h


@register
class VideoRotate(VideoOperation):
    name = "rotate"
    help = "Rotate clockwise by 90, 180 or 270 degrees."
    params = (Param("degrees", int, required=True, choices=(90, 180, 270, -90, -180, -270)),)

    def apply(self, state, p):
        turn = p["degrees"] % 360
        state.video({90: "transpose=clock", 180: "hflip,vflip", 270: "transpose=cclock"}[turn])
        if turn != 180:
            state.width, state.height = state.height, state.width


@register
class Mute(VideoOperation):
    name = "mute"
    help = "Remove the sound."

    def apply(self, state, p):
        state.mute = True


@register
class Fps(VideoOperation):
    name = "fps"
    help = "Change the frame rate to `value` frames per second."
    params = (Param("value", float, required=True, min=1, max=120),)

    def apply(self, state, p):
        state.video(f"fps={p['value']:g}")


@register
class VideoCompress(VideoOperation):
    name = "compress"
    help = "Re-encode at constant quality `crf` (0 best, 51 smallest; VP9 uses 0-63)."
    params = (Param("crf", int, default=28, min=0, max=63),)

    def apply(self, state, p):
        state.crf = p["crf"]


@register
class VideoWatermark(VideoOperation):
    name = "watermark"
    help = "Draw a text over every frame (DejaVu Sans)."
    params = (
        Param("text", str, required=True, max_length=200),
        Param("position", str, default="bottom-right", choices=POSITIONS),
        Param("opacity", float, default=0.6, min=0, max=1),
    )

    def apply(self, state, p):
        # The text goes through a file: nothing the user wrote is parsed as filter syntax.
        name = state.write_text(p["text"])
        x = {"left": "h/24", "right": "w-tw-h/24"}.get(p["position"].split("-")[-1], "(w-tw)/2")
        y = {"top": "h/24", "bottom": "h-th-h/24"}.get(p["position"].split("-")[0], "(h-th)/2")
        a = p["opacity"]
        state.video(
            f"drawtext=fontfile={state.font}:textfile={name}:expansion=none:fontsize=h/12"
            f":fontcolor=white@{a}:shadowcolor=black@{a}:shadowx=2:shadowy=2:x={x}:y={y}"
        )


@register
class Thumbnail(VideoOperation):
    name = "thumbnail"
    help = "One frame at `at` seconds, as an image (jpg unless targetFormat is png or webp)."
    params = (Param("at", float, default=0.0, min=0, max=86400),)
    last_only = True

    def apply(self, state, p):
        if p["at"] >= state.duration:
            state.fail(f"thumbnail: {p['at']:g}s is past the end of the {state.duration:.2f}s video.")
        state.thumbnail_at = p["at"]
