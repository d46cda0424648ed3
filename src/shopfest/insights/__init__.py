"""Insights: the event stream into live festival figures, the big screen, and merchant reports."""
