"""symformer: verified derivations of the mathematics of transformers.

A :class:`Derivation` is a chain of justified steps; :func:`verify` checks each step symbolically
(for general sizes where it can, else for every small size) and numerically in float64, and
:func:`catalog` holds the built-in course.

>>> from symformer import catalog, verify
>>> verify(catalog()["softmax-jacobian"]).ok
True
"""

from symformer.engine.catalog import Catalog, Discovery, catalog, discover
from symformer.engine.model import Claim, Derivation, Figure, Gradient, Jacobian, Property, Size, Step, Witness
from symformer.engine.domains import Domain
from symformer.errors import DerivationError, LoadError, SymformerError, UnknownDerivation, UsageError
from symformer.notation.latex import Style, derivation_to_latex, escape_text, to_latex
from symformer.reference.finite_differences import central_difference, directional_difference
from symformer.reference.softmax import (
    cross_entropy,
    cross_entropy_grad,
    log_softmax,
    log_softmax_jacobian,
    softmax,
    softmax_jacobian,
)
from symformer.engine.verify import CheckResult, Counterexample, MethodResult, Report, VerifyConfig, verify

__all__ = [
    "Catalog", "CheckResult", "Claim", "Counterexample", "Derivation", "DerivationError", "Discovery", "Domain",
    "Figure", "Gradient", "Jacobian", "LoadError", "MethodResult", "Property", "Report", "Size", "Step", "Style",
    "SymformerError", "UnknownDerivation", "UsageError", "VerifyConfig", "Witness", "catalog", "central_difference",
    "cross_entropy", "cross_entropy_grad", "derivation_to_latex", "directional_difference", "discover",
    "escape_text", "log_softmax", "log_softmax_jacobian", "softmax", "softmax_jacobian", "to_latex", "verify",
]

__version__ = "0.1.0"

# Each block below belongs to one part of the course; extend __all__ in the same block.

# --- attention (issue 3) ---
from symformer.blocks.attention import CausalMask, MaskedEntries, PaddingMask, PermutationMatrix, RowSoftmax
from symformer.blocks.codegen import compile_numpy, to_numpy_source
from symformer.reference.attention import (
    MultiHeadGradients,
    additive_mask,
    attention,
    attention_backward,
    causal_mask,
    multi_head_attention,
    multi_head_attention_backward,
    multi_head_parameter_count,
    padding_mask,
    safe_row_softmax,
)

__all__ += [
    "CausalMask", "MaskedEntries", "MultiHeadGradients", "PaddingMask", "PermutationMatrix", "RowSoftmax",
    "additive_mask", "attention", "attention_backward", "causal_mask", "compile_numpy", "multi_head_attention",
    "multi_head_attention_backward", "multi_head_parameter_count", "padding_mask", "safe_row_softmax",
    "to_numpy_source",
]

# --- positional encodings (issue 4) ---
from symformer.reference.positional import (
    PositionalEncodingError,
    rope,
    rope_frequencies,
    rope_matrix,
    rope_permutation,
    rotation_matrix,
    sinusoidal_encoding,
    sinusoidal_frequencies,
)

__all__ += [
    "PositionalEncodingError", "rope", "rope_frequencies", "rope_matrix", "rope_permutation", "rotation_matrix",
    "sinusoidal_encoding", "sinusoidal_frequencies",
]

# --- vectors, embeddings, scaling, language models, LayerNorm (issue 5) ---
from symformer.reference.embeddings import (
    EmbeddingError,
    embed,
    embedding_backward,
    one_hot,
    tied_embedding_backward,
    tied_logits,
)
from symformer.reference.layernorm import LayerNormError, layer_norm, layer_norm_backward, layer_norm_jacobian
from symformer.reference.mlm import MaskingError, mlm_loss, mlm_loss_grad, mlm_mask
from symformer.reference.vectors import VectorError, cosine_similarity, cosine_similarity_grad, projection

__all__ += [
    "EmbeddingError", "LayerNormError", "MaskingError", "VectorError", "cosine_similarity", "cosine_similarity_grad",
    "embed", "embedding_backward", "layer_norm", "layer_norm_backward", "layer_norm_jacobian", "mlm_loss",
    "mlm_loss_grad", "mlm_mask", "one_hot", "projection", "tied_embedding_backward", "tied_logits",
]

# --- tokenization (issue 7) ---
from symformer.tokenizer.wordpiece import (
    DEFAULT_SPECIAL_TOKENS,
    CorpusError,
    MergeRecord,
    TraceStep,
    VocabularyError,
    WordPiece,
    WordPieceTrace,
    WordPieceTraining,
    merges_to_beamer,
    merges_to_latex,
    tokenize_with_trace,
    trace_to_beamer,
    trace_to_latex,
    train_wordpiece,
)

__all__ += [
    "DEFAULT_SPECIAL_TOKENS", "CorpusError", "MergeRecord", "TraceStep", "VocabularyError", "WordPiece",
    "WordPieceTrace", "WordPieceTraining", "merges_to_beamer", "merges_to_latex", "tokenize_with_trace",
    "trace_to_beamer", "trace_to_latex", "train_wordpiece",
]

# --- figures (matplotlib is imported inside each function) ---
from symformer.figures.course import attention_patterns_figure, softmax_saturation_figure
from symformer.figures.positional import dot_product_by_offset, encoding_heatmap, rope_score_by_offset, rotation_on_circle

__all__ += [
    "attention_patterns_figure", "dot_product_by_offset", "encoding_heatmap", "rope_score_by_offset",
    "rotation_on_circle", "softmax_saturation_figure",
]
