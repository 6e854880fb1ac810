"""Publish: the web archive of sent issues and the kennisbank around it, a static site.

Only what went to the list is published (``sent_issues`` in the state database). The order:

1. read the sent issues and the items they carried into plain values (``archive.ArchivedIssue``,
   ``knowledge.Story``), newest first;
2. make each issue's sent web page safe for the public (``archive.public_page``) and give it the
   archive's head tags (description, canonical link, feed link, Open Graph and Twitter card) and a
   way on (the archive, search, sign-up);
3. lay out the archive's own pages with the templates in ``templates/site/`` (the instance's first,
   then the package's): the index, the search page, the agenda, and a page per theme, province and
   partner (``knowledge``); each event's .ics and ``agenda.ics`` (``agenda``); the Atom feed and
   the sitemap (``archive``);
4. index every story for the search with Pagefind when what it would index changed (``search``);
5. write the files that changed, each atomically, and remove the ones an earlier publish made
   that are gone now (``site.write_site``).

Everything is derived from the issue ids and the send times, never from the clock (only the
agenda's split into upcoming and past events follows ``now``), so publishing again after a new
send adds that issue and leaves every other file byte-identical: feed readers do not show old
issues as new, and a copy to a static host uploads only what changed.
"""

from pipeline.publish.archive import (
    FEED,
    INDEX,
    MANIFEST,
    RESERVED,
    ArchivedIssue,
    PublishError,
    archived_issues,
    atom_feed,
    public_addresses,
    public_page,
    sitemap,
)
from pipeline.publish.knowledge import Link, Listing, Story
from pipeline.publish.site import Site, Written, build_site, head_tags, publish, site_folder, write_site

__all__ = [
    "FEED", "INDEX", "MANIFEST", "RESERVED", "ArchivedIssue", "Link", "Listing", "PublishError", "Site",
    "Story", "Written", "archived_issues", "atom_feed", "build_site", "head_tags", "public_addresses",
    "public_page", "publish", "site_folder", "sitemap", "write_site",
]  # fmt: skip
