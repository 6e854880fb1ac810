"""The one Jinja environment every stage renders with: the instance's ``templates/`` first, then the
package's defaults, so a designer overrides one file without touching Python (docs/templates.md).

Any template mistake becomes a ``TemplateError`` that names the template file and line.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path
from types import TracebackType

import jinja2

from pipeline.domain import dutch, i18n
from pipeline.domain.errors import PipelineError, display_path
from pipeline.domain.wrap import wrap_words

PACKAGE_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


class TemplateError(PipelineError):
    "A template could not be read or rendered; the message names the template file and line."


def wrap(text: str, width: int = 72) -> str:
    """Lines of at most ``width`` characters, broken between words; a longer word (a URL) stays whole.

    Greedy, like Jinja's ``wordwrap``, at a tenth of its cost (textwrap is most of the text part).
    """
    out = []
    for paragraph in text.split("\n"):
        out.extend(wrap_words(paragraph, width) or [""])  # an empty paragraph stays an empty line
    return "\n".join(out)


@lru_cache(maxsize=8)
def environment(instance_templates: Path | None) -> jinja2.Environment:
    """The Jinja environment: the instance's templates first, then the package's defaults.

    Cached per folder, so templates are compiled once per process (the 10 ms budget).
    """
    loaders: list[jinja2.BaseLoader] = []
    if instance_templates is not None and instance_templates.is_dir():
        loaders.append(jinja2.FileSystemLoader(instance_templates))
    loaders.append(jinja2.FileSystemLoader(PACKAGE_TEMPLATES))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        # MJML and HTML are escaped; the text part is not HTML and must not be.
        autoescape=jinja2.select_autoescape(enabled_extensions=("mjml", "html", "j2"), default=False),
        undefined=jinja2.StrictUndefined,  # a misspelt variable is an error with its line, not a blank
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["wrap"] = wrap
    env.filters["dutch_date"] = dutch.date
    env.filters["dutch_datetime"] = dutch.datetime
    i18n.install(env)
    return env


def _template_frame(tb: TracebackType | None) -> tuple[str, int] | None:
    """The innermost traceback frame in a template (Jinja rewrites frames to template lines)."""
    found = None
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if name.endswith((".mjml", ".txt", ".html", ".j2")):
            found = (name, tb.tb_lineno)
        tb = tb.tb_next
    return found


def render_template(env: jinja2.Environment, name: str, root: Path, **context: object) -> str:
    """Render one template; any error becomes a TemplateError naming the template file and line."""
    try:
        return env.get_template(name).render(**context)
    except jinja2.TemplateSyntaxError as e:
        where = f"{display_path(e.filename or name, root)}:{e.lineno}"
        raise TemplateError(f"{where}: {e.message}", "fix the template syntax on that line") from None
    except jinja2.TemplateNotFound as e:
        raise TemplateError(
            f"template '{e.name}' not found (looked in templates/ and the package's defaults)",
            "check the name in the {% include %} or {% extends %}, or restore the file",
        ) from None
    except Exception as e:  # a template is code a designer wrote; any error is theirs to see
        frame = _template_frame(sys.exc_info()[2])
        where = f"{display_path(frame[0], root)}:{frame[1]}: " if frame else f"{name}: "
        raise TemplateError(
            f"{where}{type(e).__name__}: {e}",
            "see docs/templates.md for the variables each template receives",
        ) from None
