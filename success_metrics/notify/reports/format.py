"""How a report writes a figure and names a thing: one format per unit, rounded by magnitude, and human labels.

Every number a report shows goes through ``figure`` with the unit its column declares, so the same unit reads
the same everywhere (tile, table, chart axis, sentence): money with the tenant's currency symbol, percent with
"%", durations with "h", "s" or "ms". Column ids, status codes and metric ids never reach a reader: ``label``
turns them into words, and a metric is named by its catalog title.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from success_metrics.calculators import CalculatorError, Unit, get_metric

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$", "NZD": "NZ$", "CHF": "CHF ",
           "INR": "₹", "MXN": "MX$", "BRL": "R$", "ZAR": "R ", "SEK": "SEK ", "NOK": "NOK ", "DKK": "DKK "}

# status codes the calculators write, as a reader says them, and whether each is good news
STATUSES = {"above_target": ("Above target", "good"), "on_track": ("On track", "good"),
            "at_risk": ("At risk", "bad"), "below_target": ("Below target", "bad"),
            "no_target": ("No target", "neutral"), "healthy": ("Healthy", "good"), "degraded": ("Degraded", "warn"),
            "down": ("Down", "bad"), "unknown": ("Unknown", "neutral"), "firing": ("Firing", "bad"),
            "resolved": ("Resolved", "good")}

# words that are not a capitalised id: acronyms, and ids whose plain reading is wrong
_WORDS = {"roi": "ROI", "api": "API", "id": "ID", "mttr": "MTTR", "sla": "SLA", "crm": "CRM", "sms": "SMS",
          "yoy": "Year over year", "mtd": "Month to date", "pct": "%"}
_LABELS = {"period": "Period", "month_to_date": "Month to date", "projected_month_end": "Projected month-end",
           "projected_month": "Projected month", "previous_month": "Previous month", "annual": "Annual",
           "hours_saved": "Time savings", "revenue_attribution": "Revenue attribution", "savings": "Monthly savings",
           "roi": "ROI", "avg_first_contact_hours": "Hours to first contact", "efficiency_score": "Efficiency score",
           "lead_to_appointment": "Lead-to-appointment rate", "lead_to_close": "Lead-to-close rate",
           "response_time_hours": "Hours to first contact", "kind": "Type", "value": "Value",
           "previous": "Previous period", "target": "Target", "projected": "Projected", "status": "Status"}


CODE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")  # a code (status, class, source), not a name


def symbol(currency: str) -> str:
    return SYMBOLS.get(currency.upper(), f"{currency.upper()} ")


def _digits(value: float) -> int:
    """Decimals by magnitude: none from 100 up, one from 10, two below (so 4,940 and 2.35 and 47.2)."""
    size = abs(value)
    return 0 if size >= 100 or size == 0 else 1 if size >= 10 else 2


def _grouped(value: float, digits: int) -> str:
    text = f"{value:,.{digits}f}"
    return "0" if text in ("-0", "-0.0", "-0.00") else text


def compact(value: float, thousands: bool = False) -> str:
    """1.2M, 38.3k, 950: for tiles and chart axes, where a full figure would not fit; ``thousands``: k from
    1,000 rather than 10,000 (an axis whose ticks reach 10k reads $2k, $4k … throughout)."""
    size = abs(value)
    for limit, scale, suffix in ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e3 if thousands else 1e4, 1e3, "k")):
        if size >= limit:
            return f"{value / scale:,.1f}".rstrip("0").rstrip(".") + suffix
    return _grouped(value, _digits(value))


def figure(value: object, unit: Unit | None, currency: str = "USD", *, short: bool = False,
           thousands: bool = False) -> str:
    """``value`` in ``unit`` as a reader sees it; ``short`` abbreviates large figures (tiles, axes)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return label(str(value))
    number = float(value)
    plain = compact(number, thousands) if short else _grouped(number, _digits(number))
    match unit:
        case Unit.CURRENCY:
            cents = 2 if 0 < abs(number) < 100 and not short else 0
            text = compact(abs(number), thousands) if short else _grouped(abs(number), cents)
            return f"{'-' if number < 0 else ''}{symbol(currency)}{text}"
        case Unit.PERCENT:  # never abbreviated: 4,940% reads, 4.9k% does not
            return f"{_grouped(number, _digits(number))}%"
        case Unit.RATIO:
            return f"{_grouped(100 * number, _digits(100 * number))}%"
        case Unit.HOURS:
            return f"{plain} h"
        case Unit.SECONDS:
            return f"{plain} s"
        case Unit.MS:
            return f"{plain} ms"
        case Unit.SCORE:
            return f"{_grouped(number, 0)} / 100"
        case Unit.BYTES:
            return _bytes(number)
        case _:  # counts and unit-less numbers: whole when whole
            return _grouped(number, 0) if number == int(number) else plain


def _bytes(number: float) -> str:
    for suffix in ("B", "KB", "MB", "GB"):
        if abs(number) < 1024:
            return f"{number:,.0f} {suffix}" if suffix == "B" else f"{number:,.1f} {suffix}"
        number /= 1024
    return f"{number:,.1f} TB"


def change(current: object, previous: object) -> float | None:
    """The relative change current against previous, or None when either is missing or previous is zero."""
    if not isinstance(current, int | float) or not isinstance(previous, int | float) or not previous:
        return None
    return (current - previous) / abs(previous)


def percent_change(fraction: float) -> str:
    return f"{'+' if fraction >= 0 else '−'}{_grouped(abs(100 * fraction), 1 if abs(fraction) < 1 else 0)}%"


def label(identifier: str) -> str:
    """A column id, status or code as words: above_target → Above target, hours_saved → Time savings."""
    if identifier in STATUSES:
        return STATUSES[identifier][0]
    if identifier in _LABELS:
        return _LABELS[identifier]
    words = [_WORDS.get(w, w) for w in identifier.replace(".", " ").replace("_", " ").replace("-", " ").split()]
    if not words:
        return identifier
    first = words[0] if words[0].isupper() or words[0] in _WORDS.values() else words[0].capitalize()
    return " ".join([first, *words[1:]])


def readable(text: str) -> str:
    """A cell's text: a code (status, class, source id such as website_form) as words, a name as it is."""
    return label(text) if CODE.fullmatch(text) else text


def known(name: str) -> bool:
    try:
        get_metric(name)
    except CalculatorError:
        return False
    return True


def metric_title(name: str) -> str:
    """A metric by its catalog title (a name the catalog does not know yet by its words)."""
    return get_metric(name).title if known(name) else label(name)


def when(moment: datetime, zone: ZoneInfo) -> str:
    """A moment in the tenant's zone, with the zone's abbreviation: 3 Dec 2026, 09:00 CST."""
    local = moment.astimezone(zone)
    return f"{local.day} {local:%b %Y, %H:%M} {local.tzname()}"

