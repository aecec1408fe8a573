"""Which image alt text is worth indexing: a description is, a placeholder is not.

``![RAG pipeline: retriever feeds the generator](x.png)`` says in words what the picture
shows, often the only place a page says it; ``![image](x.png)``, ``![截图](x.png)`` or
``![foo.png](foo.png)`` are what editors (Typora, Obsidian, Feishu) write when nobody
typed a description, and would only add noise to every chunk they sit in.
"""

from __future__ import annotations

import html
import re

from askwiki.text import to_simplified

# Words editors write instead of a description, alone or numbered ("image 2", "图1",
# Typora's "image-20230405123456789", Obsidian's "Pasted image 20230405").
_PLACEHOLDER = re.compile(
    r"^(?:(?:pasted |untitled )?(?:image|img|picture|pic|photo|screenshot|screen ?shot|"
    r"figure|fig|diagram|icon|logo|badge|alt|alt text|untitled)|"
    r"图片|图|截图|屏幕截图|截屏|图像|照片|插图|示意图|图标)"
    r"[\s._#:-]*\d*[\s._-]*$",
    re.IGNORECASE,
)
_FILE_NAME = re.compile(
    r"\.(?:png|jpe?g|gif|svg|webp|bmp|tiff?|ico|avif|heic|drawio|excalidraw)$", re.IGNORECASE
)
# Numbers, dates and sizes: "1", "2023-04-05", "100x200".
_NUMERIC = re.compile(r"^[\d\s.,:x×_-]*$", re.IGNORECASE)


def descriptive_alt(alt: str) -> str | None:
    """``alt`` with entities decoded and spaces folded when it describes the image;
    ``None`` when it is empty, a placeholder word, a file name or a number."""
    text = " ".join(html.unescape(alt).split())
    if _NUMERIC.match(text) or _FILE_NAME.search(text) or _PLACEHOLDER.match(to_simplified(text)):
        return None
    return text
