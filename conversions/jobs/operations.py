"""The operations hook: how jobs that carry operations are planned and run.

The lifecycle knows that a job may carry operations (a filter job, or a
convert job with operations applied to its result) but not the operation
vocabulary: that lives in filters/, which depends on conversions/ and never
the reverse. filters/ registers its implementation here when its app is
ready; without one, a job with operations is refused, never run half-way.
"""

from conversions.errors import BadRequest, ConversionFailed

# The longest chain of operations one job may carry (the API schema states it too).
MAX_OPERATIONS = 20


class Operations:
    """What filters/ implements (see filters.services.FilterOperations)."""

    # The operation vocabulary (filters.vocabulary.operations): the filter pages and
    # the API schema read it; None where no filters are installed.
    vocabulary = None

    def family_of(self, fmt):
        """The operations family of a format (image, audio, video, pdf), or None."""
        return None

    def sources(self, family):
        """The formats a filter job of this family accepts (the pages' file picker offers these)."""
        return ()

    def create_job(self, **kwargs):
        """A filter job from a page's form (the API posts to filters' own view)."""
        raise BadRequest("Filters are not available on this server.", code="unknown_filter")

    def plan_for_convert(self, target, operations):
        """The cleaned operations to run after a conversion to `target` (400 on a bad one)."""
        raise NotImplementedError

    def apply_after_convert(self, ctx, job, out_path, out_fmt):
        """Run a convert job's operations on its converted file; (path, format)."""
        raise NotImplementedError

    def run_job(self, job, workdir, budget):
        """Run a filter job: (converter seconds, output path, output format)."""
        raise NotImplementedError


class _NoOperations(Operations):
    def plan_for_convert(self, target, operations):
        if operations:
            raise BadRequest("Operations are not available on this server.", code="invalid_operations")
        return []

    def apply_after_convert(self, ctx, job, out_path, out_fmt):
        raise ConversionFailed("Operations are not available on this server.", code="invalid_operation")

    def run_job(self, job, workdir, budget):
        raise ConversionFailed("Filters are not available on this server.", code="unsupported_conversion")


_registered = [_NoOperations()]


def register(implementation):
    """Called once by filters/ at start-up (its AppConfig.ready)."""
    _registered[0] = implementation


def current():
    return _registered[0]
