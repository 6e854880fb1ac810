"""What the studio knows about an instance: one snapshot per issue file, rebuilt once per change.

A ``Snapshot`` is everything an issue's page shows, built from one version of the file: the
check's problems (``pipeline.run.check``), the rendered email, text and web page
(``pipeline.render.prepare``, once per change), the approval state, the ranked candidates and the
balance. It is cached under the file's content hash, the state database's data version and the
settings' and templates' modification times, so a page that is reloaded, or refreshed after a save
elsewhere, costs a file read and a hash.

Every write goes through the curate stage (``pipeline.curate.edit``, ``approve``, ``draft``) and
only after ``pipeline.curate.edit.apply`` has seen that the file is the version the editor's
page was built from. Reading never writes.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from pipeline import curate, deliver, render
from pipeline import run as workflow
from pipeline.curate import edit, ranking
from pipeline.curate.balance import Balance, balance
from pipeline.domain.config import Config
from pipeline.domain.editions import Choice, effective, issue_tags
from pipeline.domain.errors import InputInvalid, NotFound, PipelineError, Problem, display_path
from pipeline.domain.i18n import N_, _
from pipeline.domain.issues import ISSUE_ID_RE, Approval, Issue, Prepared, issue_path
from pipeline.domain.models import IssueState, Item
from pipeline.domain.tokens import Recipient, personalise
from pipeline.domain.yamldoc import MAX_BYTES
from pipeline.infra.approval import approval_state
from pipeline.infra.instance import check_config
from pipeline.infra.store import Store
from pipeline.portal import digest

GMAIL_CLIP_BYTES = render.GMAIL_CLIP_BYTES
# Why an issue cannot be changed, by its state (translated where used).
LOCKED = {
    IssueState.SENT: N_("issue {issue} was sent; it cannot be changed"),
    IssueState.SENDING: N_("issue {issue} is being sent; it cannot be changed"),
    IssueState.SCHEDULED: N_(
        "issue {issue} is scheduled at SendGrid (recall it with 'newsletter cancel' to change it); "
        "it cannot be changed"
    ),
}


@dataclass(frozen=True)
class Preview:
    """The rendered issue as a test send fills it (``Beste lezer,``, a working unsubscribe link)."""

    subject: str
    preheader: str
    html: str
    text: str
    web_html: str
    bytes: int  # the email's HTML, against Gmail's clipping at 102 KB


@dataclass(frozen=True)
class Snapshot:
    issue_id: str
    shown: str  # issues/ID.yaml
    key: tuple[object, ...]  # what it was built from (content hash, data version, mtimes)
    version: str  # the content hash an edit must match ("missing" when there is no file)
    built: dt.datetime
    exists: bool = True
    text: str | None = None
    issue: Issue | None = None
    problems: tuple[Problem, ...] = ()
    prepared: Prepared | None = None
    preview: Preview | None = None
    render_error: PipelineError | None = None
    state: str = "invalid"  # an IssueState, or "invalid"
    candidates: tuple[ranking.Candidate, ...] = ()
    balance: Balance | None = None
    config_problems: tuple[Problem, ...] = ()
    last_good: Snapshot | None = None  # the last snapshot that could be read, while this one cannot

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]

    @property
    def editable(self) -> bool:
        return self.issue is not None and self.state not in LOCKED

    @property
    def items(self) -> Mapping[str, Item]:
        return self.prepared.items if self.prepared else {}


@dataclass(frozen=True)
class Listed:
    id: str
    state: str
    send_at: dt.datetime | None
    approval: Approval | None
    problem: str | None


@dataclass
class Note:
    """What a POST did, shown once on the page it redirects to."""

    ok: bool
    message: str
    hint: str | None = None
    problems: tuple[str, ...] = ()
    at: float = field(default_factory=time.monotonic)
    version: str | None = None  # the file's version this action wrote, if it wrote one


class Workspace:
    """One instance, opened for the studio. Thread-safe: the web server calls it from its threads."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], dt.datetime] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.root = config.root
        self.config = config
        self.config_problems: tuple[Problem, ...] = ()
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.env = dict(os.environ if env is None else env)
        self._lock = threading.RLock()
        self._store: Store | None = None
        self._cache: dict[str, Snapshot] = {}
        self._good: dict[str, Snapshot] = {}
        self._candidates: tuple[tuple[object, ...], tuple[ranking.Candidate, ...]] | None = None
        self._config_key = self._settings_key()
        self.notes: dict[str, Note] = {}

    # -- what a snapshot is built from -----------------------------------------------------------------
    def _settings_key(self) -> tuple[object, ...]:
        def mtime(p: Path) -> int:
            try:
                return p.stat().st_mtime_ns
            except OSError:
                return 0

        folder = self.root / "templates"
        templates = (
            tuple(sorted(mtime(p) for p in folder.rglob("*") if p.is_file())) if folder.is_dir() else ()
        )
        return (mtime(self.root / "sources.yaml"), templates)

    def _reload_config(self) -> None:
        key = self._settings_key()
        if key == self._config_key:
            return
        self._config_key = key
        config, problems = check_config(self.root)
        self.config_problems = tuple(p for p in problems if p.is_error)
        if config is not None:
            self.config = config

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.config.settings.database)
        return self._store

    def data_version(self) -> str:
        with self._lock:
            return self.store.change_marker()

    def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None

    def path(self, issue_id: str) -> Path:
        if not ISSUE_ID_RE.match(issue_id):
            raise NotFound(
                _("'{issue}' is not an issue id").format(issue=issue_id), _("issue ids are like 2026-12")
            )
        return issue_path(self.root, issue_id)

    def shown(self, issue_id: str) -> str:
        return display_path(self.path(issue_id), self.root)

    # -- snapshots ---------------------------------------------------------------------------------
    def snapshot(self, issue_id: str) -> Snapshot:
        """The issue as its file is now (cached while nothing it depends on changed)."""
        with self._lock:
            self._reload_config()
            path = self.path(issue_id)
            raw, version = _read(path)
            key = (version, self.data_version(), self._config_key)
            cached = self._cache.get(issue_id)
            if cached is not None and cached.key == key:
                return cached
            snap = self._build(issue_id, path, raw, version, key)
            self._cache[issue_id] = snap
            if snap.issue is not None:
                self._good[issue_id] = snap
            return snap

    def _build(
        self, issue_id: str, path: Path, raw: bytes | None, version: str, key: tuple[object, ...]
    ) -> Snapshot:
        shown = display_path(path, self.root)
        now = self.clock()
        base = Snapshot(issue_id, shown, key, version, now, config_problems=self.config_problems)
        if raw is None and version == "missing":
            return replace(base, exists=False)
        text = raw.decode("utf-8", "replace") if raw is not None else None
        try:
            issue, problems = workflow.check(self.config, self.store, issue_id)
        except NotFound:
            return replace(base, exists=False)
        candidates = self.candidates(now)
        if issue is None:
            last = self._good.get(issue_id)
            return replace(base, text=text, problems=tuple(problems), candidates=candidates, last_good=last)
        prepared, preview, failure = None, None, None
        try:
            prepared = render.prepare(self.config, self.store, issue)
            preview = self._preview(prepared)
        except PipelineError as e:
            failure = e
        items = prepared.items if prepared else {}
        state = str(
            approval_state(
                self.config, self.store, issue, prepared.fingerprint if prepared else None, now=now
            )
        )
        return replace(
            base,
            text=text,
            issue=issue,
            problems=tuple(problems),
            prepared=prepared,
            preview=preview,
            render_error=failure,
            state=state,
            candidates=candidates,
            balance=balance(self.config, self.store, issue, items, candidates, now),
        )

    def edition_preview(self, snap: Snapshot, choice: Choice) -> tuple[str, Preview] | None:
        """("bekijk als") The preview of the edition a reader with ``choice`` gets: (its key, the
        preview); the key is ``""`` when the choice changes nothing in this issue. None without a
        rendered issue. Rendered on each call (about 10 ms): only an editor who asks for it waits."""
        prepared = snap.prepared
        if prepared is None:
            return None
        key = self.edition_key(prepared, choice)
        if not key or prepared.editions is None:
            return "", self._preview(prepared)
        return key, self._preview(replace(prepared, rendered=prepared.editions([key])[key]))

    def edition_key(self, prepared: Prepared, choice: Choice) -> str:
        """The key of the edition ``choice`` gets (``""``: the issue as it is)."""
        return effective(prepared.issue, issue_tags(self.config, prepared.issue, prepared.items), choice).key

    def _preview(self, prepared: Prepared) -> Preview:
        r, s = prepared.rendered, self.config.settings
        html = personalise(r.html, Recipient(""), s, r.issue_id)
        text = personalise(r.text, Recipient(""), s, r.issue_id)
        return Preview(r.subject, r.preheader, html, text, r.web_html, len(html.encode("utf-8")))

    def candidates(self, now: dt.datetime) -> tuple[ranking.Candidate, ...]:
        """Every item that could go in an issue now, best first (cached per data version and hour)."""
        with self._lock:
            key = (self.data_version(), self._config_key, now.replace(minute=0, second=0, microsecond=0))
            if self._candidates is None or self._candidates[0] != key:
                since = curate.default_since(self.store, now)
                found = curate.eligible_items(self.store, since, now)
                self._candidates = (key, tuple(ranking.candidates(self.config, found, now)))
            return self._candidates[1]

    def issues(self) -> list[Listed]:
        """Every issue with where it stands."""
        with self._lock:
            self._reload_config()
            out = []
            for s in curate.statuses(self.config, self.store):
                state = str(s.state)
                out.append(Listed(s.id, state, s.send_at, s.approval, s.problem))
            return out

    def partner_files(self) -> list[digest.Line]:
        """The partner files saved in the portal in the last two weeks, newest first."""
        with self._lock:
            return list(digest.recent(self.config, self.store, self.clock()))

    # -- writes: through the curate stage only ------------------------------------------------------
    def change(self, issue_id: str, version: str, make: Callable[[str], str]) -> str:
        """Make one curation edit, if the file is still at ``version``; the new version."""
        with self._lock:
            snap = self.snapshot(issue_id)
            if snap.issue is None:
                raise edit.EditRefused(
                    _("{path} cannot be read, so it cannot be changed here").format(path=snap.shown),
                    _("fix the problem shown at the top of the page in your editor"),
                )
            if snap.state in LOCKED:
                raise edit.EditRefused(
                    _(LOCKED[IssueState(snap.state)]).format(issue=issue_id),
                    _("start the next issue instead"),
                )
            return edit.apply(self.path(issue_id), snap.shown, version, make)

    def approve(self, issue_id: str, version: str, fingerprint: str, by: str) -> Approval:
        """``newsletter approve`` for the version the editor saw (file and items alike)."""
        with self._lock:
            snap = self.snapshot(issue_id)
            if snap.version != version:
                raise edit.FileChanged(
                    _("{path} changed on disk since the page was loaded; it was not approved").format(
                        path=snap.shown
                    ),
                    _("the page now shows the new version: look at it, then approve again"),
                )
            if snap.prepared is not None and snap.prepared.fingerprint != fingerprint:
                raise edit.FileChanged(
                    _(
                        "the items of issue {issue} changed in the state database since the page was loaded "
                        "(a collect ran); it was not approved"
                    ).format(issue=issue_id),
                    _("the page now shows the new version: look at it, then approve again"),
                )
            return curate.approve(self.config, self.store, issue_id, by, now=self.clock())

    def test_send(self, issue_id: str, address: str) -> deliver.TestReport:
        """``newsletter send ISSUE --to ADDRESS`` of the issue as its file is now."""
        with self._lock:
            snap = self.snapshot(issue_id)
            if snap.prepared is None:
                if snap.render_error is not None:
                    raise snap.render_error
                raise InputInvalid(snap.problems)
            transport = deliver.open_transport(self.config, self.env)
            return deliver.send_test(self.config, snap.prepared.rendered, [address], transport)

    def draft(self, issue_id: str) -> curate.Draft:
        """``newsletter draft ISSUE``: a new file with the ranked candidates."""
        with self._lock:
            return curate.draft(self.config, self.store, issue_id, now=self.clock())

    def add_note(self, note: Note) -> str:
        import secrets

        with self._lock:
            now = time.monotonic()
            for k in [k for k, n in self.notes.items() if now - n.at > 600]:
                del self.notes[k]
            key = secrets.token_urlsafe(9)
            self.notes[key] = note
            return key


def _read(path: Path) -> tuple[bytes | None, str]:
    """The file's bytes and version; a file over the size limit is not read (only its size is)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return None, "missing"
    except OSError:
        return None, "unreadable"
    if info.st_size > MAX_BYTES:
        return None, f"size:{info.st_size}:{info.st_mtime_ns}"
    try:
        raw = path.read_bytes()
    except OSError:
        return None, "unreadable"
    return raw, edit.version(raw)
