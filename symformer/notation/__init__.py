"""How mathematics is written: the course's LaTeX printer and its Style, escaping of text, layout
metrics, and plain-text rendering for the terminal.
"""
