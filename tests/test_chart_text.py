"""Chart text measured once: chart_style's widths (title wrapping) are FreeType's, remembered."""

from matplotlib.font_manager import FontProperties, findfont, get_font

from salesnb.present import chart_style


def _freetype_width(text: str, size: float, weight: str = "normal") -> float:
    font = get_font(findfont(FontProperties(family="DejaVu Sans", weight=weight)))
    font.set_size(size, 72)
    font.set_text(text, 0.0)
    return font.get_width_height()[0] / 64


def test_a_texts_width_is_freetypes_and_is_measured_once():
    chart_style._measured.cache_clear()
    first = chart_style._width("Win rate (%)", 9)
    again = chart_style._width("Win rate (%)", 9)
    info = chart_style._measured.cache_info()
    assert first == again == _freetype_width("Win rate (%)", 9) > 0
    assert (info.misses, info.hits) == (1, 1)
    assert chart_style._width("Win rate (%)", 9, bold=True) == _freetype_width("Win rate (%)", 9, "bold") > first
    assert chart_style._width("", 9) == 0.0
    two_lines = chart_style._width("Win rate\n(%) of closed deals", 9)
    assert two_lines == max(_freetype_width("Win rate", 9), _freetype_width("(%) of closed deals", 9))
