"""Shared assets of the HTML reports: one copy of a JavaScript bundle per report folder.

plotly.js is 4.5 MB. Inlined into every forecast, audit and drift report it made each of them
4-5 MB; written once as ``plotly.min.js`` beside the reports and referenced relatively, a report is
tens of kB and still opens offline (no CDN). plotly's own ``include_plotlyjs="directory"`` emits
the same relative ``<script src="plotly.min.js">``; this module writes the file it expects.

A report served over HTTP (``GET /governance/audits/{id}/report``) has no folder beside it, so
:func:`inline_plotlyjs` swaps the reference back for the inlined bundle there.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["PLOTLY_FILE", "inline_plotlyjs", "link_bundle", "plotly_script_tag", "write_plotlyjs"]

#: the file name every report references (plotly's ``include_plotlyjs="directory"`` name)
PLOTLY_FILE = "plotly.min.js"
_TAG = f'<script charset="utf-8" src="{PLOTLY_FILE}"></script>'


def _write_once(target: Path, text: str) -> Path:
    """Write ``text`` to ``target`` unless an identical-size copy is there; atomic (rename), so two
    processes writing reports into one folder never leave a half-written bundle."""
    data = text.encode("utf-8")
    if target.is_file() and target.stat().st_size == len(data):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it owner-only; a web server must read the bundle
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_plotlyjs(folder: Path) -> Path:
    """``folder/plotly.min.js`` (the bundle of the installed plotly), written once per folder."""
    from plotly.offline import get_plotlyjs

    return _write_once(Path(folder) / PLOTLY_FILE, get_plotlyjs())


def plotly_script_tag(folder: Path) -> str:
    """The ``<script>`` tag a report in ``folder`` puts in its head; writes the bundle if missing."""
    write_plotlyjs(folder)
    return _TAG


def inline_plotlyjs(html: str) -> str:
    """A report with the local plotly.js reference replaced by the inlined bundle (for serving one
    HTML file over HTTP, where ``plotly.min.js`` beside it cannot be fetched)."""
    if _TAG not in html:
        return html
    from plotly.offline import get_plotlyjs

    return html.replace(_TAG, f'<script type="text/javascript">{get_plotlyjs()}</script>', 1)


def link_bundle(html: str, bundle: Path, folder: Path, name: str) -> str:
    """Move a bundle a library inlined as ``<script>CONTENT</script>`` out of ``html`` into
    ``folder/name`` (once per folder) and reference it relatively.

    Only an exact byte-for-byte copy of ``bundle`` is replaced, so the page runs the very same
    code; when the library inlines anything else the HTML is returned unchanged.
    """
    code = Path(bundle).read_text(encoding="utf-8")
    inline = f"<script>{code}</script>"
    if inline not in html:
        return html
    _write_once(Path(folder) / name, code)
    return html.replace(inline, f'<script charset="utf-8" src="{name}"></script>', 1)
