"""Numbers and percentages as the page, the charts and the summary write them (Dutch)."""

from __future__ import annotations


def number(n: int) -> str:
    """Dutch thousands: 12.345."""
    return f"{n:,}".replace(",", ".")


def percent(share: float) -> str:
    """Dutch percentages, whole numbers, halves rounded up as people do (5 of 8: 63%, not 62%)."""
    return f"{int(share * 100 + 0.5)}%"
