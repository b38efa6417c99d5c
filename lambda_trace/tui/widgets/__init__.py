"""Widgets of the viewer: Line API lists and the timeline; they draw, the model analyses."""
