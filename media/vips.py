"""libvips for the image code, always loaded after pillow-heif.

pyvips opens libvips with RTLD_GLOBAL, which puts Debian's libheif (1.15)
in the process's global symbol scope. pillow-heif's extension is built
against its own bundled libheif (1.23); loaded after libvips, its calls
bind to Debian's copy instead and decoding a HEIC can segfault. Loaded
first, each library keeps the libheif it was built for. Import pyvips from
here, never directly.
"""

import pillow_heif  # noqa: F401  (must precede pyvips; see above)
import pyvips

__all__ = ["pyvips"]
