"""The report's templates (sentences.j2, report.html.j2) and Word styles (reference.docx), shipped as package data.

Copy this folder, edit the copies and pass it to ``xxgk report --templates DIR``: files found there
replace these; the rest come from here.
"""
