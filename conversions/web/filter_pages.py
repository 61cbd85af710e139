"""Filter pages (resize an image, trim a video, compress a PDF...), read from the operation vocabulary.

Like the converter pages these are derived on each request from one
registry (the operation vocabulary filters/ registers with the job lifecycle),
never a list of their own; when the filters app is absent the site simply has
no filter pages.
"""

from dataclasses import dataclass

from django.urls import reverse

from conversions.engine import formats
from conversions.jobs import operations as job_operations
from conversions.web.pages import form_field

# Families come from the registered vocabulary (filters.vocabulary.FAMILIES); a title other than the name in title case:
FAMILY_TITLES = {"pdf": "PDF"}


def family_title(family):
    return FAMILY_TITLES.get(family, family.title())


def _vocabulary():
    # Registered by filters/ with the job lifecycle; conversions/ never imports filters/.
    return job_operations.current().vocabulary


@dataclass(frozen=True)
class FilterPage:
    family: str
    op: object  # a filters.vocabulary.Operation

    @property
    def slug(self):
        return f"{self.family}-{self.op.name}"

    @property
    def url(self):
        return reverse("filter-page", args=[self.slug])

    @property
    def family_label(self):
        return family_title(self.family)

    @property
    def name_label(self):
        return self.op.name.replace("_", " ").replace("-", " ").capitalize()

    @property
    def title(self):
        # Tool names read "Image resize", "PDF merge", "Audio trim" whatever the operation's grammar.
        return f"{self.family_label} {self.name_label.lower()}"

    @property
    def description(self):
        help_text = self.op.help or f"{self.name_label} {self.family} files online."
        return f"{help_text} Free, no account needed; files are deleted automatically."

    @property
    def search_text(self):
        return f"{self.family} {self.family_label} {self.op.name} {self.name_label} filter".lower()

    @property
    def multi_file(self):
        return bool(getattr(self.op, "multi_file", False))

    @property
    def accept(self):
        # What the filters accept for this family (an SVG is no image to filter), with their aliases.
        names = job_operations.current().sources(self.family)
        exts = [e for n in names for e in (n, *formats.FORMATS[n].aliases)]
        return ",".join(f".{e}" for e in exts)

    # The catalog rows share one shape with converter pairs (see _groups.html).
    link_text = name_label
    sr_prefix = ""

    @property
    def sr_suffix(self):
        return f" {self.family}"


def all_filters():
    vocabulary = _vocabulary()
    if vocabulary is None:
        return []
    pages = []
    for family in vocabulary.families:
        for name in vocabulary.names(family):
            op = vocabulary.get(family, name)
            if op is not None:
                pages.append(FilterPage(family, op))
    return pages


def resolve(slug):
    family, _, name = slug.partition("-")
    vocabulary = _vocabulary()
    op = vocabulary.get(family, name) if vocabulary is not None and family in vocabulary.families else None
    return FilterPage(family, op) if op is not None else None


def rows(query=""):
    """[(family label, "", [FilterPage])] for the catalog's Filters group."""
    from conversions.web.pages import matches_text

    vocabulary = _vocabulary()
    out = []
    for family in vocabulary.families if vocabulary is not None else ():
        items = [p for p in all_filters() if p.family == family and matches_text(p.search_text, query)]
        if items:
            title = family_title(family)
            out.append((f"{title} tools" if family == "pdf" else title, "", items))
    return out


def param_fields(page):
    """The operation's Params as form field descriptions for the template."""
    return [form_field(param, "p-", "p_", required=param.required) for param in page.op.params]


def operation_from_form(page, post):
    """One operation object from the form's fields; the vocabulary validates it."""
    op = {"op": page.op.name}
    for param in page.op.params:
        raw = post.get(f"p_{param.name}", "")
        if param.type is bool:
            if raw:
                op[param.name] = True
        elif str(raw).strip() != "":
            op[param.name] = str(raw).strip()
    return op
