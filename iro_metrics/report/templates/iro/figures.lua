-- pandoc filter for the Typst PDF: images keep their alt text (PDF/UA-1 requires it) and fit the page.
local function escape(s)
  return (s:gsub('\\', '\\\\'):gsub('"', '\\"'))
end

function Image(img)
  local alt = img.attributes["alt"] or pandoc.utils.stringify(img.caption)
  return pandoc.RawInline("typst", string.format('#image("%s", alt: "%s", width: 85%%)', escape(img.src), escape(alt)))
end


-- Typst reads `#strong[x].y` as a field access: after bold, italic or a link, a following full stop
-- would break the PDF ("**permanence**.Next"). A `;` ends the element, and Typst does not print it.
local ENDS = {Strong = true, Emph = true, Link = true, Strikeout = true, Underline = true, SmallCaps = true,
              Superscript = true, Subscript = true, Span = true}

function Inlines(inlines)
  for i = #inlines - 1, 1, -1 do
    local next = inlines[i + 1]
    if ENDS[inlines[i].t] and next.t == "Str" and next.text:sub(1, 1) == "." then
      inlines:insert(i + 1, pandoc.RawInline("typst", ";"))
    end
  end
  return inlines
end


-- The appendix's own tables (appendix.py wraps each in a "table-wrap" div) hold escaped text only: nothing
-- above can apply inside them, and not visiting their cells saves about a fifth of pandoc's time.
-- (Officers' commentary cannot make such a div: the page escapes any div it holds.)
traverse = "topdown"

function Div(div)
  if div.classes:includes("table-wrap") then
    return div, false
  end
end
