"""Forecast service: interval volume forecasts, Erlang C/A staffing, what-if grids, backlog staffing."""
