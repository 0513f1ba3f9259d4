"""Snippets for the complaint detail page:

    {% load resolution_tags %}
    {% resolution_panel c %}      plans, approvals, negotiation, tasks, follow-ups, closed loop
    {% similar_cases c %}         the top 5 similar cases
"""
from django import template

register = template.Library()


@register.inclusion_tag("resolution/_panel.html", takes_context=True)
def resolution_panel(context, complaint):
    from qingting.resolution.views import panel_context

    return panel_context(context["request"], complaint)


@register.inclusion_tag("resolution/_similar_cases.html", takes_context=True)
def similar_cases(context, complaint):
    from qingting.resolution import queries

    return {"similar": queries.similar_for(complaint, context["request"].user)}
