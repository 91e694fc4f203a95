"""Drive LibreOffice Calc like a clerk: open a workbook, type into cells, recalculate, save.

Runs under the system Python that has LibreOffice's ``uno`` module (Debian's
python3-uno), not under the project's interpreter. Reads a JSON job on stdin and
prints a JSON result:

    job:    {"input", "output", "profile", "writes": [[sheet, cell, value]], "read": [[sheet, cell]],
             "insert_rows": [[sheet, before_row, count]] (optional: unprotect the sheet and insert rows, as a clerk would)}
    result: {"before": [text...], "after": [text...], "refused": [[sheet, cell]], "protected": {sheet: bool}}

A job may instead hold {"profile", "files": [job, ...]}: one Calc serves them all, and the result
is {"files": [result, ...]}.

Headless UNO ignores sheet protection, so the script checks each cell's IsLocked
itself and refuses to type into a locked cell, as Calc would refuse a person.
"""

import json
import os
import subprocess
import sys
import time

import uno
from com.sun.star.beans import PropertyValue


def prop(name, value):
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p


def connect(pipe, deadline):
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    while True:
        try:
            return resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(0.25)


def main():
    job = json.load(sys.stdin)
    pipe = f"xxgk_test_{os.getpid()}"
    office = subprocess.Popen(
        [
            "soffice",
            "--headless",
            "--invisible",
            "--norestore",
            "--nologo",
            f"-env:UserInstallation=file://{job['profile']}",
            f"--accept=pipe,name={pipe};urp;",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ctx = connect(pipe, time.time() + 60)
        desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        if "files" in job:
            print(json.dumps({"files": [run(desktop, one) for one in job["files"]]}))
        else:
            print(json.dumps(run(desktop, job)))
    finally:
        try:
            desktop.terminate()
        except Exception:
            pass
        try:
            office.wait(timeout=20)
        except subprocess.TimeoutExpired:
            office.kill()


def run(desktop, job):
    """Open one workbook, type, insert rows, recalculate, save; what was read before and after."""
    url = uno.systemPathToFileUrl(job["input"])
    doc = desktop.loadComponentFromURL(url, "_blank", 0, (prop("Hidden", True),))
    sheets = doc.Sheets

    def cell(sheet, address):
        return sheets.getByName(sheet).getCellRangeByName(address)

    before = [cell(s, a).getString() for s, a in job["read"]]
    refused = []
    for sheet, address, value in job["writes"]:
        target = cell(sheet, address)
        if target.CellProtection.IsLocked and sheets.getByName(sheet).isProtected():
            refused.append([sheet, address])
            continue
        if isinstance(value, (int, float)):
            target.setValue(value)
        else:
            target.setString(value)
    for sheet, before_row, count in job.get("insert_rows", []):
        target = sheets.getByName(sheet)
        target.unprotect("")
        target.Rows.insertByIndex(before_row - 1, count)
    doc.calculateAll()
    after = [cell(s, a).getString() for s, a in job["read"]]
    protected = {name: sheets.getByName(name).isProtected() for name in sheets.ElementNames}
    # What a person sees on a cell: its note (comment) and its background colour (RGB as an integer).
    notes = [cell(s, a).getAnnotation().getString() for s, a in job.get("notes", [])]
    colors = [cell(s, a).CellBackColor for s, a in job.get("notes", [])]
    out = uno.systemPathToFileUrl(job["output"])
    doc.storeToURL(out, (prop("FilterName", "Calc MS Excel 2007 XML"),))
    doc.close(True)
    return {"before": before, "after": after, "refused": refused, "protected": protected, "notes": notes,
            "colors": colors}


if __name__ == "__main__":
    main()
