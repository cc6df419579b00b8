"""Text to tokens: BERT's basic tokenizer, the WordPiece model with its step-by-step trace, and the
WordPiece trainer with its likelihood score.
"""
