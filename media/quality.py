"""The plain-words `quality` every media converter offers: smaller file, balanced, best.

"balanced" is always the encoder's default (media/ffmpeg/plans.py, save_options in
media/converters/images.py), so a job without the option converts as before.
Each converter maps the words to its own encoder settings; an expert option
given as well (crf, videoBitrate, audioBitrate, a numeric image quality) wins.
"""

from conversions.errors import BadRequest
from conversions.engine.registry import Param

LEVELS = ("smaller", "balanced", "best")
LABELS = ("Smaller file", "Balanced", "Best quality")
BALANCED = "balanced"
HELP = "Smaller file: quicker to send, some detail lost. Best quality: larger file."


class NumericQualityOption(Param):
    """Image quality: the three words, or a number from `min` to `max` as the API always took."""

    def clean(self, value, where):
        if str(value).strip().lower() in LEVELS:
            return str(value).strip().lower()
        try:
            number = int(value)
            if isinstance(value, float) and value != number:
                raise ValueError
        except (TypeError, ValueError):
            number = None
        if number is None or not self.min <= number <= self.max:
            raise BadRequest(
                f"{where}: 'quality' must be one of {', '.join(LEVELS)}, or a whole number from {self.min:g} to "
                f"{self.max:g}; got {value!r}.",
                code="invalid_option",
            )
        return number


def option():
    """The words only (audio and video)."""
    return Param(
        "quality", str, HELP, default=BALANCED, choices=LEVELS, label="Quality", choice_labels=LABELS
    )


def numeric_option():
    """The words, or 1-100 (lossy image formats)."""
    return NumericQualityOption(
        "quality", str, f"{HELP} Or a number from 1 (smallest) to 100 (best).", default=BALANCED, min=1, max=100,
        choices=LEVELS, label="Quality", choice_labels=LABELS,
    )


def level(options):
    """The chosen word, "balanced" when the option is absent (or a number: the caller handles numbers)."""
    value = options.get("quality", BALANCED)
    return value if value in LEVELS else BALANCED
