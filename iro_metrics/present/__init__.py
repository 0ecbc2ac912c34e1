"""Presentation: disclosure control and formatting for published outputs."""
