"""Screens of the viewer: main (invocations, timeline, details, replay), leaks, diagnostics, help."""
