"""The developer platform (issue 5): API keys, test and live modes, plans, metered cost."""
