"""Stories: all coverage of one event, grouped incrementally."""
