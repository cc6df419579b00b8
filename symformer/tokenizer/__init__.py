"""Text to tokens: BERT's basic tokenizer, the WordPiece model with its step-by-step trace, and the
WordPiece trainer with its likelihood score.
"""

from symformer.tokenizer.train import MergeRecord, WordPieceTraining, train_wordpiece
from symformer.tokenizer.wordpiece import (
    DEFAULT_SPECIAL_TOKENS,
    TraceStep,
    WordPiece,
    WordPieceTrace,
    tokenize_with_trace,
)

__all__ = ["DEFAULT_SPECIAL_TOKENS", "MergeRecord", "TraceStep", "WordPiece", "WordPieceTrace", "WordPieceTraining",
           "tokenize_with_trace", "train_wordpiece"]
