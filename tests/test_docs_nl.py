"""The Dutch guides (docs/nl/): linked from the README, their links work, their examples pass 'validate'."""

from __future__ import annotations

import re
from pathlib import Path

from conftest import REPO, newsletter

GUIDES = [REPO / "docs" / "nl" / "partners.md", REPO / "docs" / "nl" / "redactie.md"]


def yaml_blocks(path: Path) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", path.read_text(encoding="utf-8"), re.S)


def test_the_readme_links_both_guides_near_the_top_and_their_links_work() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    top = readme[: readme.index("```sh")]  # before the first command
    assert "Nederlandse handleidingen: [voor partners](docs/nl/partners.md)" in top
    assert "[voor de redactie](docs/nl/redactie.md)" in top
    for guide in GUIDES:
        links = re.findall(r"\]\(([^)#]+)\)", guide.read_text(encoding="utf-8"))
        assert links, guide
        for link in links:
            assert (guide.parent / link).is_file(), f"{guide.name}: {link} does not exist"


def test_the_partners_guide_examples_are_valid_files(demo_root: Path) -> None:
    story, image, *_rest, progress = yaml_blocks(GUIDES[0])
    assert story.startswith("partner: gemeente-zwolle\n") and progress.startswith(
        "partner: gemeente-zwolle\n"
    )
    (demo_root / "submissions" / "uit-de-handleiding.yaml").write_text(story + image, encoding="utf-8")
    (demo_root / "monitoring" / "2026" / "gemeente-zwolle.yaml").write_text(progress, encoding="utf-8")
    files = [
        demo_root / "submissions" / "uit-de-handleiding.yaml",
        demo_root / "monitoring" / "2026" / "gemeente-zwolle.yaml",
    ]
    checked = newsletter(demo_root, "validate", *map(str, files))
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout == "OK: 2 files are valid.\n"
    assert checked.stderr == ""  # not even a warning: the image has alt and consent
