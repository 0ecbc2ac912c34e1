"""Byte-stable Office files: DOCX, XLSX and ODS are zip files whose entries carry the time they were
written (and ODS's meta.xml its dates); rewrite them with one fixed date."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path


def restamp(path: Path, when: dt.datetime, meta_dates: bool = False) -> None:
    """Rewrite the zip at ``path`` with every entry dated ``when``, in the same order (an ODS's
    ``mimetype`` stays first and stored); ``meta_dates`` also fixes the dates inside ``meta.xml``."""
    stamp = (max(when.year, 1980), when.month, when.day, 0, 0, 0)
    iso = when.strftime("%Y-%m-%dT%H:%M:%S")
    with zipfile.ZipFile(path) as z:
        entries = [(info, z.read(info.filename)) for info in z.infolist()]
    with zipfile.ZipFile(path, "w") as z:
        for info, data in entries:
            if meta_dates and info.filename == "meta.xml":
                data = re.sub(rb"(<(meta:creation-date|dc:date)>)[^<]*", lambda m: m.group(1) + iso.encode(), data)
            fixed = zipfile.ZipInfo(info.filename, date_time=stamp)
            fixed.compress_type = info.compress_type
            fixed.external_attr = 0o644 << 16
            z.writestr(fixed, data)
