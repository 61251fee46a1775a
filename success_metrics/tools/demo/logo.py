"""A demo tenant's logo: its initials in its brand colour on a white rounded square, as an inline PNG data URL.

White, because the report draws the logo on a band of the brand colour. Inline, because the report's PDF draws
only data: logos (it fetches nothing while rendering) and a made-up web address would show a broken image in the
HTML. PNG, because the PDF library does not draw SVG text. The font is the DejaVu Sans Bold that matplotlib (a
runtime dependency) ships, found without importing matplotlib.
"""

from __future__ import annotations

import base64
import importlib.util
from functools import cache
from io import BytesIO
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

SIZE = 128  # pixels; drawn 18 mm high in the PDF, about 180 dpi


def _font_path() -> Path:
    spec = importlib.util.find_spec("matplotlib")
    assert spec is not None and spec.submodule_search_locations  # a declared runtime dependency
    return Path(next(iter(spec.submodule_search_locations))) / "mpl-data" / "fonts" / "ttf" / "DejaVuSans-Bold.ttf"


@cache
def logo_url(initials: str, color: str) -> str:
    """``data:image/png;base64,…`` of ``initials`` (one or two letters) in ``color`` (``#rrggbb``) on white."""
    image = Image.new("RGBA", (SIZE, SIZE), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, SIZE - 1, SIZE - 1), radius=SIZE // 6, fill="white")
    font = ImageFont.truetype(str(_font_path()), size=SIZE * 46 // 100)
    draw.text((SIZE / 2, SIZE / 2), initials, fill=color, font=font, anchor="mm")
    out = BytesIO()
    image.save(out, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")
