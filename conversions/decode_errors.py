"""The one error a decoder child reports back: plain Python, no Django.

Modules that run inside the decoder child (`conversions/decoder_child.py`)
raise it; the worker turns it into a ConversionFailed with the same code and
message. It lives apart from `conversions.errors`, which imports Django and
DRF, so the child starts quickly.
"""


class DecodeFailed(Exception):
    """Bad input or a budget exceeded: a message a user can act on, and a code."""

    def __init__(self, message, code="invalid_image"):
        super().__init__(message)
        self.message = message
        self.code = code
