--[[
Convert-All: raw HTML/LaTeX/... dropped, in the body and in the metadata,
before a writer that would embed what it names (docx, odt, epub, and the HTML
that LibreOffice prints to PDF). Runs before clean.lua; text writers (md,
html, rst) keep raw markup as the user's own text.
--]]

local function drop()
  return {}
end

return { { RawInline = drop, RawBlock = drop } }
