"""`manage.py convert INPUT --to FORMAT [-o OUTPUT] [--option key=value ...]`.

The same sniffing, registry and sandboxed runner as the service, without a
web server, queue or database. Exit codes: 0 done, 1 the conversion failed
(bad or damaged input, a tool error), 2 the request cannot be done (unknown
pair or option, content that does not match its name, missing file).
"""

import logging

from django.core.management.base import BaseCommand, CommandError

from conversions.errors import ConversionFailed, ConvertAllError, TransientError
from conversions.engine.local import convert_file


def parse_options(pairs):
    options = {}
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise CommandError(f"--option {pair!r}: write it as key=value, e.g. --option quality=80.", returncode=2)
        options[key.strip()] = value.strip()
    return options


class Command(BaseCommand):
    help = "Convert a local file with the installed converters (no web server or database needed)."
    # No database, no URLconf: system checks would only slow a script down.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("input", help="the file to convert")
        parser.add_argument("--to", required=True, dest="target", help="target format, e.g. webp, pdf, mp3")
        parser.add_argument("-o", "--output", help="output file or folder (default: beside the input)")
        parser.add_argument(
            "--option", action="append", default=[], metavar="KEY=VALUE", help="a converter option; repeat for more"
        )

    def handle(self, *args, **opts):
        options = parse_options(opts["option"])
        # The service logs to stdout; a script wants only the summary line there (-v 2 shows the logs).
        if opts["verbosity"] < 2:
            logging.disable(logging.INFO)
        try:
            result = convert_file(opts["input"], opts["target"], output=opts["output"], options=options)
        except (ConversionFailed, TransientError) as exc:
            raise CommandError(f"Conversion failed ({exc.code}): {exc.message}", returncode=1) from None
        except ConvertAllError as exc:
            raise CommandError(f"{exc.message} [{exc.code}]", returncode=2) from None
        finally:
            logging.disable(logging.NOTSET)
        if opts["verbosity"] > 0:
            self.stdout.write(
                f"{opts['input']} ({result.source_format}) -> {result.output_path} ({result.output_format}): "
                f"{result.size} bytes, {result.converter} {result.seconds:.2f} s"
            )
