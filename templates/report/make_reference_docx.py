"""Write reference.docx: the Word styles of the generated reports (GB/T 9704 conventions).

The report writer takes every style from this file, so a coordinator can open
reference.docx in Word or WPS, change a font or a margin, save it, and every
report follows. Regenerate the default with: python templates/report/make_reference_docx.py
"""

from pathlib import Path

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

HERE = Path(__file__).resolve().parent


def _font(style, east_asia: str, size: float, bold: bool = False) -> None:
    style.font.name = "Times New Roman"
    style.font.size = Pt(size)
    style.font.bold = bold
    rpr = style.element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = rpr.makeelement(qn("w:rFonts"), {})
        rpr.append(rfonts)
    rfonts.set(qn("w:eastAsia"), east_asia)


def _paragraph(style, *, indent_chars: float = 0, exact: float | None = 28, align=None, before=0, after=0) -> None:
    pf = style.paragraph_format
    pf.first_line_indent = Pt(16 * indent_chars) if indent_chars else None
    if exact:
        pf.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        pf.line_spacing = Pt(exact)
    pf.space_before, pf.space_after = Pt(before), Pt(after)
    if align is not None:
        pf.alignment = align


def build(path: Path) -> None:
    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.footer_distance = Mm(20)
    styles = doc.styles
    _font(styles["Normal"], "仿宋_GB2312", 16)
    _paragraph(styles["Normal"], indent_chars=2, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    _font(styles["Title"], "方正小标宋简体", 22)
    _paragraph(styles["Title"], exact=36, align=WD_ALIGN_PARAGRAPH.CENTER, after=16)
    styles["Title"].paragraph_format.keep_with_next = True
    styles["Title"].paragraph_format.first_line_indent = Pt(0)  # Normal's two-character indent pushed a character over
    styles["Title"].font.color.rgb = None
    border = styles["Title"].element.pPr.find(qn("w:pBdr"))  # Word's default Title has a rule under it
    if border is not None:
        styles["Title"].element.pPr.remove(border)
    for name, east, size in (("Heading 1", "黑体", 16), ("Heading 2", "楷体_GB2312", 16)):
        _font(styles[name], east, size)
        _paragraph(styles[name], indent_chars=2)
        styles[name].font.color.rgb = None
        styles[name].paragraph_format.keep_with_next = True  # a heading never ends a page
    table_text = styles.add_style("Table Text", WD_STYLE_TYPE.PARAGRAPH)
    table_text.base_style = styles["Normal"]
    _font(table_text, "仿宋_GB2312", 9)  # 小五: the national tables' 15 columns fit a page
    _paragraph(table_text, exact=None, align=WD_ALIGN_PARAGRAPH.CENTER)
    table_text.paragraph_format.first_line_indent = Pt(0)
    table_text.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
    table_label = styles.add_style("Table Label", WD_STYLE_TYPE.PARAGRAPH)
    table_label.base_style = table_text
    table_label.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.LEFT
    caption = styles.add_style("Figure Caption", WD_STYLE_TYPE.PARAGRAPH)
    caption.base_style = styles["Normal"]
    _font(caption, "黑体", 12)
    _paragraph(caption, exact=None, align=WD_ALIGN_PARAGRAPH.CENTER)
    caption.paragraph_format.first_line_indent = Pt(0)
    # Single spacing: a picture in a paragraph of exact 28 pt lines would be cut to 28 pt.
    caption.paragraph_format.line_spacing_rule = WD_LINE_SPACING.SINGLE
    draft = styles.add_style("Draft Mark", WD_STYLE_TYPE.PARAGRAPH)
    draft.base_style = styles["Normal"]
    _font(draft, "楷体_GB2312", 16)
    _paragraph(draft, align=WD_ALIGN_PARAGRAPH.CENTER, after=16)
    draft.paragraph_format.first_line_indent = Pt(0)
    footer = styles["Footer"]
    _font(footer, "宋体", 14)
    footer.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    doc.core_properties.title = "政府信息公开工作年度报告"
    doc.core_properties.author = "xxgk"
    doc.save(path)


if __name__ == "__main__":
    build(HERE / "reference.docx")
    print(HERE / "reference.docx")
