"""Plain Dutch (taalniveau B1): rules over the texts people write, as warnings with the exact line.

The rules follow the Dutch government's Direct Duidelijk guidelines for B1 (docs/plain-language.md
says where each comes from, with examples):

- ``sentence``: a sentence of more than ``max_sentence_words`` words (default 15);
- ``long-word``: a word of more than ``max_word_syllables`` syllables (default 6), counted with the
  Dutch hyphenation dictionary that pyphen ships (``nl_NL``); names (a capital inside a sentence),
  the partners' names, the taxonomy's words and compounds of them, and ``allow`` are exempt;
- ``passive``: a form of *worden* with a past participle, or *zijn* + participle + *door*;
- ``stadhuistaal``: a formal word from ``data/stadhuistaal.txt`` (and the instance's own list),
  with its plain alternative;
- ``readability``: the Flesch-Douma score of a text of 30 words or more, as a hint only.

The warnings are in the language of the person who reads them (``pipeline.domain.i18n``); the rules
read Dutch text. Everything here is a pure function of its arguments; the only data is the word
list shipped beside this module and pyphen's dictionary, loaded on first use (about 50 ms), so
that a command that checks no text never pays for it. An editor silences rules for one text with
a comment on the text's line (or the line above it): ``summary: |  # b1: negeer teneinde, passief``.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pipeline.domain.config import ALL, RULE_NAMES, RULES, parse_word_list
from pipeline.domain.errors import Problem
from pipeline.domain.i18n import N_, _

if TYPE_CHECKING:
    from pipeline.domain.config import Config, PlainLanguage
    from pipeline.domain.yamldoc import KeyPath, YamlDoc

ADVICE = "B1"  # every warning of these rules starts with it
READABILITY_MIN_WORDS = 30  # a score of a shorter text says little
QUOTE_WORDS = 6  # the words of a long sentence quoted in its warning
INFLECTION = 4  # letters after a known word that still make the same word ("-tjes", "-en")
# What a warning calls a text ("sentence of 24 words in the summary"): callers name a text in English
# with one of these, and findings() translates it.
TEXT_NAMES = (N_("the title"), N_("the summary"), N_("the subject"), N_("the preheader"), N_("the intro"))


@dataclass(frozen=True)
class Silence:
    """What a ``# b1: ...`` marker turns off for one text: rules, and words or phrases it accepts."""

    rules: frozenset[str] = frozenset()
    words: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Finding:
    """One rule broken in one text: where (an offset in the text) and what to do."""

    rule: str
    offset: int
    message: str  # the full warning, after "B1: "
    short: str  # the same in a few words, for an overview ("a sentence of 24 words")


@dataclass(frozen=True)
class Vocabulary:
    """Words a reader of this newsletter knows: names, the taxonomy's words, the editors' ``allow``."""

    words: frozenset[str] = frozenset()
    # The network's own words (the themes' keywords, ``allow``) of five letters or more: a compound
    # that starts or ends with one is known too (kinderopvang-toeslagen, ervaringsdeskundig-heid).
    stems: tuple[str, ...] = ()

    def knows(self, word: str) -> bool:
        """``word``, an inflection of a known word (leerling-en, fiets-jes), or a compound of a stem."""
        w = word.lower()
        if w in self.words or _singular(w) in self.words:
            return True
        if any(w.startswith(s) and len(w) - len(s) <= INFLECTION for s in self.words if len(s) >= 5):
            return True
        return any((w.startswith(s) or w.endswith(s)) and w != s for s in self.stems)


def _singular(word: str) -> str:
    for ending in ("en", "s", "n", "e"):
        if word.endswith(ending) and len(word) > len(ending) + 3:
            return word[: -len(ending)]
    return word


def vocabulary(config: Config) -> Vocabulary:
    """The words of this instance that are never long or rare to its readers."""
    names: list[str] = [config.settings.title]
    names += [p.name for p in config.partners.values()] + [s.name for s in config.sources.values()]
    tax = config.taxonomy
    for terms in (tax.sections, tax.themes, tax.sectors, tax.provinces, tax.kinds, tax.horizons):
        for term in terms.values():
            names += [term.title, term.id.replace("-", " ").replace("_", " ")]
    own = [k for theme in tax.themes.values() for k in theme.keywords] + list(config.settings.plain.allow)
    words = {w.lower() for text in [*names, *own] for w in _LETTERS.findall(text)}
    stems = {w.lower() for text in own for w in _LETTERS.findall(text) if len(w) >= 5}
    return Vocabulary(frozenset(words), tuple(sorted(stems, key=len, reverse=True)))


def is_advice(problem: Problem) -> bool:
    """A B1 warning: advice on language, which never fails a command (not even validate --strict)."""
    return problem.message.startswith(ADVICE)


# -- the word lists ------------------------------------------------------------------------------------
@functools.cache
def _package_list() -> tuple[tuple[str, str], ...]:
    from importlib import resources  # the package's own list, shipped with the code: read once

    text = resources.files("pipeline.domain").joinpath("data/stadhuistaal.txt").read_text(encoding="utf-8")
    pairs, _bad = parse_word_list(text, "pipeline/domain/data/stadhuistaal.txt")
    return tuple(pairs)


@functools.cache
def _formal_table(extra: tuple[tuple[str, str], ...]) -> tuple[re.Pattern[str], dict[str, str]]:
    """One pattern for every formal word and phrase, the instance's entries over the package's, and
    each one's alternative. Longest first, so that a phrase wins over a word inside it."""
    table = dict(_package_list())
    table.update(extra)
    forms = [r"\s+".join(re.escape(w) for w in f.split()) for f in sorted(table, key=len, reverse=True)]
    return re.compile(r"(?<!\w)(?:" + "|".join(forms) + r")(?!\w)", re.I), table


# -- syllables -----------------------------------------------------------------------------------------
@functools.cache
def _hyphenator() -> object:
    import pyphen  # imported here: the dictionary is read only when a text is checked

    # left/right 1: every split the dictionary knows, also one letter from the edge ("e-ner-gie")
    return pyphen.Pyphen(lang="nl_NL", left=1, right=1)


_VOWELS = re.compile(r"ij|[aeiouyáéíóúàèìòùâêîôû]+|[äëïöü][aeiouy]*", re.I)


def syllables(word: str) -> int:
    """The syllables of a Dutch word: the dictionary's hyphenation points; within each part, the vowel
    groups (the dictionary never splits off one letter at a word's edge: "ener-gie" is three)."""
    parts = _hyphenator().inserted(word.lower()).split("-")  # type: ignore[attr-defined]
    return sum(max(1, len(_VOWELS.findall(p))) for p in parts if p)


def flesch_douma(words: int, sentences: int, syllable_count: int) -> float:
    """Flesch reading ease as Douma adapted it to Dutch (1960): 100 is very easy, under 30 very hard."""
    return 206.835 - 0.93 * (words / sentences) - 77 * (syllable_count / words)


# -- reading a text ------------------------------------------------------------------------------------
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_LETTERS = re.compile(r"[^\W\d_]+")
# A word: a number (1.200), an abbreviation with its dots (o.a.), or letters joined by - or '.
_WORD = re.compile(r"\d+(?:[.,:]\d+)*|[^\W\d_](?:\.[^\W\d_])+\.?|[^\W\d_]+(?:['’-][^\W\d_]+)*")
# Parts of a Markdown text that are not words a reader reads: link targets, addresses, code.
_NOT_READ = re.compile(
    r"\]\([^)]*\)|<[a-z][a-z0-9+.-]*:[^>\s]*>|\b(?:https?|mailto):[^\s)<>\]]+|www\.[^\s)<>\]]+"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+|`[^`]*`",
    re.I,
)
_BLOCK_START = re.compile(r"\n[ \t]*\n|\n(?=[ \t]*(?:[-*+]|\d+[.)])[ \t])|\n(?=[ \t]*#)")
_HEADING = re.compile(r"^[ \t]*#[^\n]*\n", re.M)
_STOP = re.compile(r"""[.!?]+["'”’)\]]*(?=\s+["'“‘(\[]?[^\W_a-z]|\s*$)|;(?=\s)""")
_ABBREVIATIONS = _words(
    "bijv bv bijvoorbeeld ca enz etc evt incl excl jl max min mr dr drs ir ing prof dhr mevr nr st vs "
    "blz o.a m.b.t d.w.z i.p.v t.a.v m.u.v z.o.z a.s"
)


@dataclass(frozen=True)
class Sentence:
    start: int
    words: tuple[re.Match[str], ...]


def _masked(text: str) -> str:
    """``text`` with what is not read (links' targets, addresses, code) blanked out, offsets kept."""
    return _NOT_READ.sub(lambda m: " " * len(m.group(0)), text)


def sentences(text: str) -> list[Sentence]:
    """The sentences of a plain or Markdown text, with the offset of each and its words.

    A sentence ends at . ! ? before a capital (not after an abbreviation or an initial), at a
    semicolon (two sentences joined), at a paragraph break, a list item and a heading."""
    masked = _masked(text)
    cuts = {0, len(masked)}
    for m in _BLOCK_START.finditer(masked):
        cuts.add(m.start() + 1)
    for m in _HEADING.finditer(masked):
        cuts.add(m.end())
    for m in _STOP.finditer(masked):
        if m.group(0).startswith(".") and len(m.group(0)) == 1:
            before = re.search(r"([\w.]+)$", masked[: m.start()])
            token = before.group(1).lower() if before else ""
            if token in _ABBREVIATIONS or re.fullmatch(r"[^\W\d_]", token):
                continue
        cuts.add(m.end())
    out = []
    bounds = sorted(cuts)
    for a, b in itertools.pairwise(bounds):
        words = tuple(_WORD.finditer(masked, a, b))
        if words:
            out.append(Sentence(words[0].start(), words))
    return out


# -- passive voice ---------------------------------------------------------------------------------------
_WORDEN = frozenset({"word", "wordt", "worden", "werd", "werden", "geworden"})
_ZIJN = frozenset({"is", "zijn", "was", "waren", "ben", "bent", "geweest"})
_PARTICLES = (
    "aan", "af", "bij", "door", "in", "mee", "na", "om", "onder", "op", "over", "samen", "tegen", "terug",
    "toe", "uit", "vast", "voor", "weg",
)  # fmt: skip
_PARTICIPLE = re.compile(
    rf"(?:{'|'.join(_PARTICLES)})?ge[^\W\d_]{{2,}}(?:d|t|en)|(?:be|ver|ont|her|er)[^\W\d_]{{3,}}[^n\W\d_][dt]"
)
# Words that look like a participle and are not one: nouns and adjectives in ge-, be-, ver-, ...
_NOT_PARTICIPLE = _words(
    "gebied gebieden gedicht gedichten gezicht gezichten gewicht gerecht gerechten gevecht geluid gemiddeld "
    "gezond gereed gerust gemeenten gezinnen gevolgen gebouwen gesprekken gedachten geheimen gewoonten "
    "geleden genoegen gebeuren gebeurt geheugen gebaren geeft geldt gelden geloven gelooft genieten "
    "gevallen getallen beleid bericht berichten bestand bestanden bedrijven "
    "bezit verband verbod verleden verstand verzet vervoert vertelt betaalt besteedt bereikt verdient "
    "ervaart ervaren ontvangt verwacht verkocht bewust bekend verlicht"
)


# Strong verbs' participles without ge- (their prefix takes its place).
_STRONG = _words(
    "ontvangen vergeten verboden bevolen verkregen verschenen verbonden besproken beschreven verloren "
    "besloten bewezen verwezen doorverwezen ontnomen herkend erkend ontkend"
)


def _participle(word: str) -> bool:
    if word in _STRONG:
        return True
    return word not in _NOT_PARTICIPLE and not word.endswith("heid") and bool(_PARTICIPLE.fullmatch(word))


def _passive(sentence: Sentence) -> str | None:
    """The passive construction in a sentence ("wordt ... georganiseerd"), or None."""
    words = [m.group(0).lower() for m in sentence.words]
    aux = [i for i, w in enumerate(words) if w in _WORDEN]
    agent = "door" in words
    if not aux and agent:
        aux = [i for i, w in enumerate(words) if w in _ZIJN]
    for i in aux:
        for j, w in enumerate(words):
            if j != i and _participle(w):
                a, b = (words[i], w) if i < j else (w, words[i])
                return f"{a} ... {b}" if abs(i - j) > 1 else f"{a} {b}"
    return None


# -- the rules -----------------------------------------------------------------------------------------
def _quote(text: str, sentence: Sentence) -> str:
    """The sentence's first words as written (punctuation kept, Markdown emphasis left out)."""
    words = sentence.words
    shown = text[sentence.start : words[min(len(words), QUOTE_WORDS) - 1].end()]
    shown = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", shown)  # a Markdown link: its text
    shown = " ".join(re.sub(r"\*\*|__|(?<!\w)[*_]|[*_](?!\w)", "", shown).split())
    return shown + (" ..." if len(words) > QUOTE_WORDS else "")


def _alternative(plain: str) -> str:
    """The plain word(s) of a word list's entry ("met / door") as a warning offers them: 'met' or 'door'."""
    words = [f"'{p.strip()}'" for p in plain.split("/")]
    if len(words) == 1:
        return words[0]
    return _("{words} or {last}").format(words=", ".join(words[:-1]), last=words[-1])


def _long_sentences(text: str, parts: Sequence[Sentence], what: str, limit: int) -> Iterable[Finding]:
    for s in parts:
        n = len(s.words)
        if n > limit:
            quote = _quote(text, s)
            message = _('sentence of {n} words in {what}; split it (at most {limit}): "{quote}"').format(
                n=n, what=what, limit=limit, quote=quote
            )
            yield Finding("sentence", s.start, message, _("a sentence of {n} words").format(n=n))


def _formal_words(text: str, settings: PlainLanguage, accepted: set[str]) -> Iterable[Finding]:
    pattern, table = _formal_table(settings.stadhuistaal)
    seen: set[str] = set()
    for m in pattern.finditer(_masked(text)):
        formal = " ".join(m.group(0).lower().split())
        if formal in seen or formal in accepted:
            continue
        seen.add(formal)  # once a text is enough
        write = _alternative(table[formal])
        yield Finding("stadhuistaal", m.start(),
                      _("'{formal}' is stadhuistaal; write {plain}").format(formal=formal, plain=write),
                      _("'{formal}' (write {plain})").format(formal=formal, plain=write))  # fmt: skip


def _passives(parts: Sequence[Sentence], what: str) -> Iterable[Finding]:
    for s in parts:
        construction = _passive(s)
        if construction:
            message = _(
                'passive voice in {what} ("{construction}"); write who does it (active voice)'
            ).format(what=what, construction=construction)
            yield Finding("passive", s.start, message, _("passive voice"))


def _long_words(
    parts: Sequence[Sentence], what: str, limit: int, known: Vocabulary, accepted: set[str]
) -> Iterable[Finding]:
    seen: set[str] = set()
    for s in parts:
        for k, m in enumerate(s.words):
            for word, at in _word_parts(m):
                low = word.lower()
                # A word has at least as many syllables as vowel groups, and one more only where two
                # vowels are said apart (si-tu-a-tie): the rest only for a word that can be long.
                if low in seen or low in accepted or len(_VOWELS.findall(word)) < limit:
                    continue
                if _is_name(s, k, word) or known.knows(word):
                    continue
                n = syllables(word)
                if n > limit:
                    seen.add(low)
                    message = _(
                        "long word '{word}' ({n} syllables) in {what}; use a shorter, everyday word, "
                        "or explain it"
                    ).format(word=word, n=n, what=what)
                    yield Finding("long-word", at, message, _("the long word '{word}'").format(word=word))


def _readability(parts: Sequence[Sentence], what: str, minimum: int) -> Iterable[Finding]:
    words = [m.group(0) for s in parts for m in s.words if not m.group(0)[0].isdigit()]
    if len(words) < READABILITY_MIN_WORDS:
        return
    score = flesch_douma(len(words), len(parts), sum(syllables(w) for w in words))
    if score < minimum:
        shown = f"{score:.0f}"
        message = _(
            "Flesch-Douma readability of {what} is {score} (plain Dutch scores {minimum} or more); "
            "a hint: shorter sentences and shorter words raise it"
        ).format(what=what, score=shown, minimum=minimum)
        yield Finding("readability", 0, message, _("Flesch-Douma {score}").format(score=shown))


def findings(
    text: str, what: str, settings: PlainLanguage, known: Vocabulary, silence: Silence = Silence()
) -> list[Finding]:
    """Every B1 rule ``text`` breaks, in the order of the text, its messages in the current language.
    ``what`` names the text in English, one of TEXT_NAMES ("the summary"): it is translated here."""
    if not settings.enabled or not text.strip():
        return []
    what = _(what)
    off = set(settings.skip) | set(silence.rules)
    accepted = set(settings.allow) | set(silence.words)
    parts = sentences(text)
    found: list[Finding] = []
    if "sentence" not in off:
        found += _long_sentences(text, parts, what, settings.max_sentence_words)
    if "stadhuistaal" not in off:
        found += _formal_words(text, settings, accepted)
    if "passive" not in off:
        found += _passives(parts, what)
    if "long-word" not in off:
        found += _long_words(parts, what, settings.max_word_syllables, known, accepted)
    if "readability" not in off:
        found += _readability(parts, what, settings.min_flesch_douma)
    return sorted(found, key=lambda f: (f.offset, RULES.index(f.rule)))


def _word_parts(m: re.Match[str]) -> Iterable[tuple[str, int]]:
    """The parts of a word written with hyphens ("kinder-opvangtoeslag"), with their offsets."""
    at = m.start()
    for part in re.split(r"(['’-])", m.group(0)):
        if _LETTERS.fullmatch(part):
            yield part, at
        at += len(part)


def _is_name(sentence: Sentence, k: int, word: str) -> bool:
    """A name: a capital inside a sentence (Holtenbroek), all capitals (GGD), or a capital at its
    start followed by another (Publieksacademie Kinderarmoede, Stichting Leergeld)."""
    if not word[0].isupper():
        return False
    if k > 0 or (len(word) > 1 and word.isupper()):
        return True
    following = sentence.words[1].group(0) if len(sentence.words) > 1 else ""
    return following[:1].isupper()


# -- the marker ----------------------------------------------------------------------------------------
_MARKER = re.compile(r"(?:^|\s)#\s*b1\s*:(.*)$", re.I)


def silence_marker(line: str) -> Silence | None:
    """The ``# b1: negeer WORD, RULE`` comment in a source line, or None.

    ``negeer``/``ignore`` may be left out; entries are separated by commas (or spaces); a rule's
    name (zinslengte, lange-woorden, passief, stadhuistaal, leesbaarheid, or in English) turns the
    rule off for this text, ``alles``/``all`` (or nothing) every rule, any other entry is a word or
    phrase the word rules accept."""
    m = _MARKER.search(line)
    if not m:
        return None
    body = re.sub(r"^\s*(?:negeer|ignore)\b", "", m.group(1).strip(), flags=re.I)
    rules: set[str] = set()
    words: set[str] = set()
    entries = [" ".join(e.lower().split()) for e in body.split(",") if e.strip()]
    if not entries:
        return Silence(frozenset(RULES))
    phrases = {formal for formal, _plain in _package_list()}
    for entry in entries:
        tokens = [entry] if entry in phrases or " " not in entry else entry.split()
        for token in tokens:
            if token in ALL:
                rules |= set(RULES)
            elif token in RULE_NAMES:
                rules.add(RULE_NAMES[token])
            else:
                words.add(token.strip("'\""))
    return Silence(frozenset(rules), frozenset(words))


# -- texts in YAML files -------------------------------------------------------------------------------
@dataclass(frozen=True)
class TextAt:
    """A text in a YAML file: the key path of its value and what a warning calls it."""

    keypath: KeyPath
    what: str  # in English, one of TEXT_NAMES: "the summary", "the intro", "the title"
    value: str = field(compare=False)


def _source_lines(doc: YamlDoc) -> list[str]:
    return doc.source.splitlines()


def file_silence(doc: YamlDoc, line: int) -> Silence:
    """The marker on a text's line, or on a comment line right above it."""
    lines = _source_lines(doc)
    found = []
    if 0 < line <= len(lines):
        found.append(silence_marker(lines[line - 1]))
    if 1 < line <= len(lines) + 1 and lines[line - 2].lstrip().startswith("#"):
        found.append(silence_marker(lines[line - 2]))
    marks = [s for s in found if s is not None]
    return Silence(frozenset().union(*(s.rules for s in marks)), frozenset().union(*(s.words for s in marks)))


def _line_of_offsets(doc: YamlDoc, keypath: KeyPath, value: str, offsets: Sequence[int]) -> dict[int, int]:
    """The file line of each offset in ``value``: its words are found, in order, in the file's text
    from the key on (so a block scalar, a folded one or a quoted one spanning lines all work); an
    offset whose words cannot be found (an escape sequence) gets the line of the last one found."""
    key_line = doc.line(*keypath) or 1
    lines = _source_lines(doc)
    if not lines:
        return dict.fromkeys(offsets, key_line)
    first = lines[key_line - 1] if key_line <= len(lines) else ""
    key = keypath[-1] if keypath else ""
    start = first.find(f"{key}:") + len(f"{key}:") if isinstance(key, str) and f"{key}:" in first else 0
    rest = first[start:]
    if rest.lstrip()[:1] not in ("'", '"'):
        rest = re.sub(r"(^|\s)#.*$", "", rest)  # a comment after the value on the key's line
    region = "\n".join([rest, *lines[key_line:]])
    line_starts = [0] + [m.end() for m in re.finditer("\n", region)]
    cursor = 0
    current = key_line
    wanted = sorted(set(offsets))
    out: dict[int, int] = {}
    for m in _WORD.finditer(_masked(value)):
        while wanted and wanted[0] < m.start():
            out[wanted.pop(0)] = current
        hit = re.compile(r"(?<!\w)" + re.escape(m.group(0)) + r"(?!\w)").search(region, cursor)
        if hit is None:
            break
        cursor = hit.end()
        current = key_line + _index(line_starts, hit.start())
        while wanted and wanted[0] <= m.start():
            out[wanted.pop(0)] = current
    for offset in wanted:
        out[offset] = current
    return out


def _index(starts: Sequence[int], position: int) -> int:
    return bisect.bisect_right(starts, position) - 1


def check_texts(
    doc: YamlDoc, texts: Iterable[TextAt], settings: PlainLanguage, known: Vocabulary
) -> list[Problem]:
    """The B1 warnings of texts in a parsed file, each at the line where the sentence or word is."""
    if not settings.enabled:
        return []
    out: list[Problem] = []
    for t in texts:
        line = doc.line(*t.keypath) or 1
        found = findings(t.value, t.what, settings, known, file_silence(doc, line))
        lines = _line_of_offsets(doc, t.keypath, t.value, [f.offset for f in found])
        out += [Problem(doc.path, lines[f.offset], f"{ADVICE}: {f.message}", "warning") for f in found]
    return out


def overview(
    text: str, what: str, settings: PlainLanguage, known: Vocabulary, silence: Silence = Silence()
) -> list[str]:
    """The rules ``text`` breaks, each in a few words ("a sentence of 24 words", "passive voice")."""
    return list(dict.fromkeys(f.short for f in findings(text, what, settings, known, silence)))
