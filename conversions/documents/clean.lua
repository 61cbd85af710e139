--[[
Convert-All: the tree between pandoc's reader and its writer, cleaned in the
same pandoc run (conversions/documents/pandoc.py passes this file with
--lua-filter, and drop_raw.lua before it for writers that embed files).

- An image keeps only an inline `data:` picture; one that names a path or a
  URL becomes a span of its alt text (identifier, classes and safe attributes
  kept, its title dropped).
- Images, links, spans, divs, code, code blocks, figures and tables keep only
  the attributes in SAFE_ATTR_KEYS: the others (src, poster, href, data,
  style...) may name a resource.
- Metadata keeps only plain descriptive keys (SAFE_META), cleaned the same
  way: an element filter walks the metadata too. `pagetitle` is the
  converter's own (-M overrides the document's): kept only when the document
  has no title, so writers that need a title do not use our file name.
- The media bag is emptied: the epub, docx and odt readers fill it, and no
  writer may carry a picture the cleaned tree does not hold inline.
--]]

local SAFE_META = {
  title = true, subtitle = true, author = true, date = true, lang = true, abstract = true,
  keywords = true, subject = true, description = true,
}
local SAFE_ATTR_KEYS = { width = true, height = true, lang = true, dir = true }

local function clean_attr(el)
  local kept = {}
  for _, kv in ipairs(el.attributes) do
    if SAFE_ATTR_KEYS[kv[1]] then
      kept[#kept + 1] = { kv[1], kv[2] }
    end
  end
  el.attributes = kept
  return el
end

local function image(img)
  if img.src:sub(1, 5) == "data:" then
    return clean_attr(img)
  end
  return pandoc.Span(img.caption, clean_attr(img).attr)
end

local function meta(m)
  local kept = {}
  for key, value in pairs(m) do
    if SAFE_META[key] or (key == "pagetitle" and m.title == nil) then
      kept[key] = value
    end
  end
  return pandoc.Meta(kept)
end

local function document(doc)
  pandoc.mediabag.empty()
  return doc
end

return {
  {
    Image = image,
    Link = clean_attr,
    Span = clean_attr,
    Div = clean_attr,
    Code = clean_attr,
    CodeBlock = clean_attr,
    Figure = clean_attr,
    Table = clean_attr,
    Meta = meta,
    Pandoc = document,
  },
}
