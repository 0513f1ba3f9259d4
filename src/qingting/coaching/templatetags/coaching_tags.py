"""Snippets for the complaint detail page:

    {% load coaching_tags %}
    {% reply_editor c %}     the reply assistant's draft + the live reply checker
    {% care_break c %}       after a very hostile case: a short break and self-care tips
"""
from django import template

register = template.Library()


@register.inclusion_tag("coaching/_reply_editor.html", takes_context=True)
def reply_editor(context, complaint):
    from qingting.coaching.views import editor_context

    return editor_context(context["request"], complaint)


@register.inclusion_tag("coaching/_care_break.html", takes_context=True)
def care_break(context, complaint):
    from qingting.coaching.care import break_suggestion

    return {"care": break_suggestion(complaint, context["request"].user)}
