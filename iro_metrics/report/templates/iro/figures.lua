-- pandoc filter for the Typst PDF: images keep their alt text (PDF/UA-1 requires it) and fit the page.
local function escape(s)
  return (s:gsub('\\', '\\\\'):gsub('"', '\\"'))
end

function Image(img)
  local alt = img.attributes["alt"] or pandoc.utils.stringify(img.caption)
  return pandoc.RawInline("typst", string.format('#image("%s", alt: "%s", width: 85%%)', escape(img.src), escape(alt)))
end

