"""The converter pages' view of the registry: slugs, groups, related pairs.

Pages never keep a second list of converters: every page, the home page's
groups and the sitemap are derived from `registry.pairs()` on each request,
so a converter registered by another module appears on its own.
"""

import re
from dataclasses import dataclass

from django.utils.text import slugify

from conversions.engine import formats
from conversions.engine.registry import registry

# Friendly slug words for the formats people search for by product name.
FRIENDLY = {"docx": "word", "xlsx": "excel", "pptx": "powerpoint"}
_FROM_FRIENDLY = {v: k for k, v in FRIENDLY.items()}

# Home page groups, in display order.
GROUPS = (
    ("documents", "Documents"),
    ("images", "Images"),
    ("audio", "Audio"),
    ("video", "Video"),
    ("pdf", "PDF tools"),
    ("data", "Data"),
    ("fonts", "Fonts"),
    ("subtitles", "Subtitles"),
    ("archives", "Archives"),
    ("filters", "Filters"),
)
_GROUP_OF_CATEGORY = {
    "image": "images",
    "audio": "audio",
    "video": "video",
    "pdf": "pdf",
    "document": "documents",
    "spreadsheet": "documents",
    "presentation": "documents",
    "text": "documents",
    "ebook": "documents",
    "data": "data",
    "font": "fonts",
    "subtitle": "subtitles",
    "archive": "archives",
}


def word(fmt):
    """The slug word for a format: 'word' for docx, the format name otherwise."""
    return FRIENDLY.get(fmt, fmt)


def label(fmt):
    try:
        return formats.get(fmt).title
    except KeyError:
        return fmt.upper()


@dataclass(frozen=True)
class PagePair:
    source: str
    target: str
    converter: object

    @property
    def slug(self):
        if self.source == self.target:
            return f"{word(self.source)}-{slugify(self.converter.name)}"
        return f"{word(self.source)}-to-{word(self.target)}"

    @property
    def url(self):
        from django.urls import reverse

        return reverse("converter", args=[self.slug])

    @property
    def source_label(self):
        return label(self.source)

    # The catalog rows share one shape with filter pages (see _groups.html).
    @property
    def link_text(self):
        return self.target_label

    @property
    def sr_prefix(self):
        return f"{self.source_label} to "

    sr_suffix = ""

    @property
    def target_label(self):
        return label(self.target)

    @property
    def title(self):
        if self.source == self.target:
            return f"{self.source_label} {self.converter.name}"
        return f"{self.source_label} to {self.target_label}"

    @property
    def group(self):
        if self.converter.family == "filters":
            return "filters"
        category = formats.FORMATS[self.source].category if self.source in formats.FORMATS else ""
        return _GROUP_OF_CATEGORY.get(category, "documents")

    @property
    def description(self):
        return (
            f"Convert {self.source_label} files to {self.target_label} online, free. "
            f"Upload a .{self.source} file, get a .{self.target} back in seconds; files are deleted automatically."
        )

    @property
    def options(self):
        return self.converter.options_for(self.source, self.target)

    @property
    def search_text(self):
        words = {self.source, self.target, word(self.source), word(self.target), self.source_label, self.target_label}
        return " ".join(sorted(w.lower() for w in words))


def all_pairs():
    return [PagePair(s, t, c) for s, t, c in registry.pairs()]


def by_slug():
    return {p.slug: p for p in all_pairs()}


def _format_from_word(w):
    return _FROM_FRIENDLY.get(w) or formats.normalize(w)


def resolve(slug):
    """(pair, canonical_slug) for a slug, accepting plain extensions and aliases; (None, None) if unknown."""
    pages = by_slug()
    if slug in pages:
        return pages[slug], slug
    source, sep, target = slug.lower().partition("-to-")
    if not sep:
        return None, None
    src, tgt = _format_from_word(source), _format_from_word(target)
    for pair in pages.values():
        if (pair.source, pair.target) == (src, tgt):
            return pair, pair.slug
    return None, None


def grouped():
    """[(key, title, [pairs])] for the home page, empty groups left out."""
    buckets = {key: [] for key, _ in GROUPS}
    for pair in all_pairs():
        buckets[pair.group].append(pair)
    return [(key, title, buckets[key]) for key, title in GROUPS if buckets[key]]


def matches(pair, query):
    """The server-side twin of static/js/search.js, for browsers without JavaScript."""
    words = query.lower().replace("-to-", " ").replace("→", " ").split()
    words = [w for w in words if w != "to"]
    if len(words) == 2:
        src, tgt = words
        return src in f"{pair.source} {word(pair.source)} {pair.source_label.lower()}" and tgt in (
            f"{pair.target} {word(pair.target)} {pair.target_label.lower()}"
        )
    return all(w in pair.search_text for w in words)


def matches_text(text, query):
    words = [w for w in query.lower().split() if w != "to"]
    return all(w in text for w in words)


def grouped_by_source(query=""):
    """[(key, title, count, [(row_label, row_suffix, [items])])]: each family, one row per source format.

    Filters (operations, not format pairs) come last, one row per kind of file.
    """
    from conversions.web import filter_pages

    out = []
    for key, title, pairs in grouped():
        pairs = [p for p in pairs if matches(p, query)] if query.strip() else pairs
        if not pairs:
            continue
        rows = {}
        for pair in pairs:
            rows.setdefault(pair.source, []).append(pair)
        sources = sorted(rows, key=lambda s: label(s).lower())
        out.append((key, title, len(pairs), [(label(s), "to", rows[s]) for s in sources]))
    filter_rows = filter_pages.rows(query)
    # PDF operations (merge, split, compress...) are what people call PDF tools.
    pdf_rows = [r for r in filter_rows if r[2][0].family == "pdf"]
    filter_rows = [r for r in filter_rows if r[2][0].family != "pdf"]
    if pdf_rows:
        groups = {g[0]: g for g in out}
        _, title, count, rows = groups.get("pdf", ("pdf", "PDF tools", 0, []))
        merged = ("pdf", title, count + sum(len(r[2]) for r in pdf_rows), rows + pdf_rows)
        out = [merged if g[0] == "pdf" else g for g in out] if "pdf" in groups else _insert_before(out, "filters", merged)
    if filter_rows:
        out = [g for g in out if g[0] != "filters"]
        out.append(("filters", "Filters", sum(len(r[2]) for r in filter_rows), filter_rows))
    return out


def _insert_before(groups, key, group):
    keys = [g[0] for g in groups]
    index = keys.index(key) if key in keys else len(groups)
    return groups[:index] + [group] + groups[index:]


# Shown first on the home page when the registry offers them (a pointer, not a second catalog).
POPULAR = ("pdf-to-word", "word-to-pdf", "png-to-jpg", "jpg-to-png", "heic-to-jpg", "webp-to-png",
           "jpg-to-pdf", "excel-to-pdf", "mp4-to-mp3", "mov-to-mp4", "wav-to-mp3", "powerpoint-to-pdf")


def popular():
    pages = by_slug()
    return [pages[slug] for slug in POPULAR if slug in pages]


def related(pair, limit=24):
    """Other pairs from the same source, then into the same target from the same family."""
    out = []
    pairs = all_pairs()
    for p in pairs:
        if p.source == pair.source and p.slug != pair.slug:
            out.append(p)
    for p in pairs:
        if p.target == pair.target and p.source != pair.source and p.group == pair.group:
            out.append(p)
    return out[:limit]


def field_label(name):
    """'videoBitrate' or 'video_bitrate' -> 'Video bitrate'."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ")
    return spaced[:1].upper() + spaced[1:].lower()


def form_field(spec, prefix_id, prefix_name, **extra):
    """One declared Param (a converter option or an operation parameter) as a form field for the template."""
    field = {
        "id": f"{prefix_id}{spec.name}",
        "name": f"{prefix_name}{spec.name}",
        "label": getattr(spec, "label", "") or field_label(spec.name),
        "help": spec.help,
        "advanced": getattr(spec, "advanced", False),
        **extra,
        "default": "" if spec.default is None else spec.default,
        "min": spec.min,
        "max": spec.max,
    }
    words = getattr(spec, "choice_labels", None)
    if spec.choices:
        values = [str(c) for c in spec.choices]
        # A few choices with words of their own read best side by side (radio buttons), a default always set.
        radio = words is not None and len(values) <= 4 and spec.default is not None
        field.update(
            input="radio" if radio else "select",
            choices=list(zip(values, words or values)),
            default=str(field["default"]),
        )
        if radio:
            field["min"] = field["max"] = None  # a numeric alternative is for the API, not this form
    elif spec.type is bool:
        field["input"] = "checkbox"
    elif spec.type in (int, float):
        field.update(input="number", step="1" if spec.type is int else "any")
    else:
        field["input"] = "text"
    return field


def option_fields(pair):
    """The converter's Options as form field descriptions for the template."""
    return [form_field(opt, "opt-", "opt_") for opt in pair.options]


def split_fields(fields):
    """(the fields people choose, the expert ones for the "Advanced" disclosure)."""
    return [f for f in fields if not f["advanced"]], [f for f in fields if f["advanced"]]
