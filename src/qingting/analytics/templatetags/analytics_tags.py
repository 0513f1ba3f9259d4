from django import template

register = template.Library()


@register.filter
def duration(seconds) -> str:
    """Seconds as 分钟/小时/天; '—' when there is no value (never 0)."""
    if seconds is None or seconds == "":
        return "—"
    s = float(seconds)
    if s < 3600:
        return f"{s / 60:.0f} 分钟"
    if s < 86400 * 2:
        return f"{s / 3600:.1f} 小时"
    return f"{s / 86400:.1f} 天"


@register.filter
def pct(value) -> str:
    return "—" if value is None else f"{value:.1f}%"
