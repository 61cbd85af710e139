"""Still-image encoder defaults against the encoders' own (issue 12, item 6): the stills half of bench/encoders.py."""

from bench.encoders import run_stills as run

__all__ = ["run"]
