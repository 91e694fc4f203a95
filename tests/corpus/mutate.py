"""Mutations of a valid workbook for fuzzing the reader: XML parts edited, then rezipped, or raw bytes flipped."""

from __future__ import annotations

import io
import random
import zipfile

TOKENS = [b"<c r=\"A1\">", b"</row>", b"<f>", b"</f>", b"t=\"s\"", b"<v>", b"</v>", b"r=\"ZZZ99999999\"", b"&amp;",
          b"<v>1e308</v>", b"<v>NaN</v>", b"<v>-0</v>", b"<v>99999999999999999999</v>", b"\xff\xfe", b"\x00",
          b"<sheet name=\"x\" sheetId=\"1\" r:id=\"rId99\"/>", b"<definedName name=\"xxgk_t3_new_natural\">x!A1</definedName>",
          b"<is><t>=1+1</t></is>", b"t=\"inlineStr\"", b"t=\"b\"", b"t=\"e\"", b"<f t=\"shared\" si=\"0\"/>"]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One random mutation of an .xlsx's bytes."""
    if rng.random() < 0.2:
        raw = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            raw[rng.randrange(len(raw))] = rng.randrange(256)
        return bytes(raw)
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    name = rng.choice([n for n in parts if n.endswith((".xml", ".rels"))])
    xml = bytearray(parts[name])
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        at = rng.randrange(len(xml) + 1)
        if op == 0 and len(xml) > 10:  # delete a span
            end = min(len(xml), at + rng.randint(1, 200))
            del xml[at:end]
        elif op == 1:  # insert a token that means something to a reader
            xml[at:at] = rng.choice(TOKENS)
        elif op == 2 and len(xml) > 10:  # duplicate a span
            end = min(len(xml), at + rng.randint(1, 500))
            xml[at:at] = xml[at:end]
        elif op == 3:  # swap digits
            digits = [i for i in range(len(xml)) if 48 <= xml[i] <= 57]
            for i in rng.sample(digits, min(len(digits), rng.randint(1, 10))):
                xml[i] = rng.randrange(48, 58)
        else:  # drop the part altogether
            xml = bytearray()
            break
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for n, d in parts.items():
            if n == name and not xml and rng.random() < 0.5:
                continue
            z.writestr(n, bytes(xml) if n == name else d)
    return out.getvalue()
