"""The site's search: a static Pagefind index over every story, research item, tool and event that went
out in an issue, built at publish time and searched in the reader's browser (``zoeken/``).

Each item becomes one small HTML record (``records``): its title, summary, partner, kind, themes,
provinces and date as text to search (Dutch stemming: the records say ``lang="nl"``), the filters
(thema, provincie, sector, soort, jaar) and what a result shows (its source's address and the issue
it went out in) as Pagefind metadata. Pagefind (the ``pagefind[bin]`` package: its binary ships in
the wheel) indexes those records in a temporary folder; publish reads its bundle back and writes
only the files that changed, like every other page.

Indexing takes most of a cold publish, so the records' digest is kept in the bundle
(``DIGEST``): when it is the same as last time, nothing is indexed and the bundle stays as it is.
"""

from __future__ import annotations

import hashlib
import html
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from pagefind.service import get_executable

from pipeline.domain.i18n import _
from pipeline.publish.archive import SEARCH_BUNDLE, PublishError
from pipeline.publish.knowledge import Story

DIGEST = f"{SEARCH_BUNDLE}/records.sha256"
# Pagefind's own search UIs and the index of pages in no language are not used: zoeken/ has its own.
_UNUSED = (
    "pagefind-ui.",
    "pagefind-component-ui.",
    "pagefind-modular-ui.",
    "pagefind-highlight.",
    "wasm.unknown.",
)
FILTERS = ("thema", "provincie", "sector", "soort", "jaar")


def _record(story: Story) -> str:
    e = html.escape
    issue = story.issues[-1]  # where it first went out
    who = story.partner.title if story.partner else (story.source or "")
    filters = {
        "thema": [t.title for t in story.themes],
        "provincie": [p.title for p in story.provinces],
        "sector": [story.sector] if story.sector else [],
        "soort": [story.kind_title] if story.kind_title else [],
        "jaar": [issue.date_iso[:4]],
    }
    meta = {
        "title": story.title, "bron": story.url, "samenvatting": story.summary, "wie": who,
        "soort": story.kind_title or "", "nummerpad": issue.path,
        "datum": issue.date_text, "agenda": story.calendar or "",
        "wanneer": ", ".join(x for x in (story.when, story.location) if x),
    }  # fmt: skip
    words = [story.title, story.summary, who, story.kind_title or "", story.when or "", story.location or "",
             *filters["thema"], *filters["provincie"], issue.date_text]  # fmt: skip
    hidden = "".join(
        f'<span data-pagefind-filter="{k}">{e(v)}</span>' for k, vs in filters.items() for v in vs
    )
    # Pagefind searches metadata too: the issue's subject ("Fietsen, laptops en stress") is left out,
    # or every story of that issue would match its words; a result names the issue by its date.
    hidden += "".join(
        f'<span data-pagefind-meta="{k}[data-v]" data-v="{e(v)}"></span>' for k, v in meta.items() if v
    )
    hidden += f'<span data-pagefind-sort="datum">{e(issue.date_iso)}</span>'
    body = "".join(f"<p>{e(w)}</p>" for w in words if w)
    return (
        f'<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>{e(story.title)}</title></head>'
        f"<body><main data-pagefind-body>{body}<div data-pagefind-ignore>{hidden}</div></main>"
        "</body></html>\n"
    )


def records(shared: tuple[Story, ...]) -> dict[str, str]:
    """One HTML record per story, by file name."""
    return {f"{story.id}.html": _record(story) for story in shared}


def digest(recs: Mapping[str, str]) -> str:
    h = hashlib.sha256(b"pagefind 1\n")
    for name in sorted(recs):
        h.update(name.encode() + b"\0" + recs[name].encode() + b"\0")
    return h.hexdigest() + "\n"


def index(recs: Mapping[str, str], bundle: Path) -> list[Path]:
    """Run Pagefind on the records, writing its bundle into ``bundle`` (a folder that does not exist
    yet); returns the bundle's files, Pagefind's unused ones removed."""
    with tempfile.TemporaryDirectory(prefix="newsletter-search-") as tmp:
        site = Path(tmp) / "records"
        site.mkdir()
        for name, text in recs.items():
            (site / name).write_text(text, encoding="utf-8")
        # The binary itself when the package finds it (no second Python to start), else its module.
        binary = get_executable()
        start = [str(binary)] if binary is not None else [sys.executable, "-m", "pagefind"]
        command = [
            *start,
            "--site",
            str(site),
            "--output-path",
            str(bundle),
            "--force-language",
            "nl",
            "--silent",
        ]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        except (OSError, subprocess.TimeoutExpired) as err:
            raise _failed(str(err)) from err
    if done.returncode != 0 or not (bundle / "pagefind.js").exists():
        raise _failed((done.stderr or done.stdout).strip()[-500:])
    kept = []
    for path in sorted(bundle.rglob("*")):
        if path.is_file():
            if path.relative_to(bundle).as_posix().startswith(_UNUSED):
                path.unlink()
            else:
                kept.append(path)
    return kept


def bundle_files(recs: Mapping[str, str]) -> dict[str, bytes]:
    """Pagefind's bundle for the records in memory: path relative to the site -> bytes."""
    with tempfile.TemporaryDirectory(prefix="newsletter-search-") as tmp:
        bundle = Path(tmp) / SEARCH_BUNDLE
        return {
            f"{SEARCH_BUNDLE}/{p.relative_to(bundle).as_posix()}": p.read_bytes() for p in index(recs, bundle)
        }


def _failed(detail: str) -> PublishError:
    return PublishError(
        _("the search index could not be built: {detail}").format(detail=detail or "pagefind failed"),
        _("install Pagefind with its binary in the newsletter's environment: pip install 'pagefind[bin]'"),
    )
