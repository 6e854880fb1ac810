"""The instance's repository: with ``newsletter.portal.git_commit: true`` each save is also a git
commit, with the partner as its author (and the contact's address). A failed commit leaves the saved
file as it is and says so in the log: the file is the truth, the commit its history."""

from __future__ import annotations

import hashlib
import logging
import subprocess
from collections.abc import Sequence
from pathlib import Path

from pipeline.domain.config import Config
from pipeline.domain.i18n import _
from pipeline.infra.store import PortalSession

log = logging.getLogger("newsletter.portal")


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def commit(config: Config, paths: Sequence[Path], who: PortalSession, message: str) -> bool:
    """Commit ``paths`` (added, changed or removed) when the setting asks for it; whether it did."""
    if not config.settings.portal.git_commit:
        return False
    root = config.root
    name = config.partners[who.partner].name.replace("<", "").replace(">", "")
    rel = [str(p.relative_to(root)) for p in paths]
    author = f"{name} <{who.email}>"
    env = {"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin:/usr/local/bin"}
    try:
        subprocess.run(
            ["git", "-C", str(root), "add", "-A", "--", *rel],
            check=True,
            capture_output=True,
            env=env,
            timeout=30,
        )
        subprocess.run(
            ["git", "-C", str(root), "-c", f"user.name={name}", "-c", f"user.email={who.email}",
             "commit", "-q", f"--author={author}", "-m", message, "--", *rel],
            check=True, capture_output=True, env=env, timeout=30,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError) as e:
        reason = (
            e.stderr.decode(errors="replace").strip()[:200]
            if isinstance(e, subprocess.CalledProcessError)
            else str(e)
        )
        log.warning(_("a portal save was not committed to git: {reason}").format(reason=reason))
        return False
    return True
