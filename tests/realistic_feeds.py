"""Feeds as partners really write them: ~20 items of ~2 KB of HTML each (paragraphs, relative links, a
list, an image, a tracking parameter), shared by bench/bench_collect.py and the golden comparison of
tests/test_collect_golden.py."""

from __future__ import annotations

THEMES = ("school", "sport", "schulden", "energie", "werkende armen", "voedselbank")


def entry(n: int, i: int) -> str:
    """Entry ``i`` of partner ``n``'s feed (the same text every time it is asked for)."""
    theme = THEMES[(n + i) % len(THEMES)]
    body = (
        f"<p>Kinderen in armoede doen mee met <a href='/sport?utm_source=rss'>sport</a> en krijgen "
        f"spullen voor {theme}. {'Meer tekst over het plan en de aanpak in de wijk. ' * 12}</p>"
        f"<ul><li>Wat: een plan voor {theme}</li><li>Waar: <a href='../wijk/{i}'>de wijk</a></li>"
        f"<li>Voor wie: gezinnen met <em>weinig geld</em></li></ul>"
        f"<p>{'Ouders en scholen vertellen hoe het ging. ' * 9}<a href='https://www.example.org/x'>"
        f"Meer</a> &amp; <strong>lees verder</strong>.</p>"
        f"<img src='/media/{n}/{i}.jpg' alt='Foto {i} &amp; uitleg' width='640'>"
    )
    return (
        f"<item><title>Partner {n}: verhaal {i} over meedoen en {theme}</title>"
        f"<link>https://partner{n}.example.nl/nieuws/{i}?utm_source=rss</link>"
        f"<guid>https://partner{n}.example.nl/nieuws/{i}</guid>"
        f"<pubDate>Wed, {1 + i % 25:02d} Nov 2026 10:00:00 +0100</pubDate>"
        f"<category>Nieuws</category><description><![CDATA[{body}]]></description></item>"
    )


def feed(n: int, items: int = 20, extra: str = "") -> bytes:
    """Partner ``n``'s RSS feed; ``extra`` is added as raw entries after its own."""
    entries = "".join(entry(n, i) for i in range(items)) + extra
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Partner {n}</title>'
        f"<link>https://partner{n}.example.nl/</link>{entries}</channel></rss>"
    ).encode()
