"""SLA: business calendars, deadline clocks, policies (pure cores: calendar.py, clock.py, presets.py)."""
