"""Independent NumPy implementations: the numeric oracles the symbolic results are checked against.

Nothing here imports SymPy or the derivation engine, so a bug in one cannot hide a bug in the other.

>>> from symformer.reference import softmax
>>> softmax([0.0, 0.0]).tolist()
[0.5, 0.5]
"""

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
from symformer.reference.embeddings import embed, embedding_backward, one_hot, tied_embedding_backward, tied_logits
from symformer.reference.finite_differences import central_difference, directional_difference
from symformer.reference.layernorm import layer_norm, layer_norm_backward, layer_norm_jacobian
from symformer.reference.mlm import mlm_loss, mlm_loss_grad, mlm_mask
from symformer.reference.positional import (
    rope,
    rope_frequencies,
    rope_matrix,
    rope_permutation,
    rotation_matrix,
    sinusoidal_encoding,
    sinusoidal_frequencies,
)
from symformer.reference.softmax import (
    cross_entropy,
    cross_entropy_grad,
    log_softmax,
    log_softmax_jacobian,
    softmax,
    softmax_jacobian,
)
from symformer.reference.vectors import cosine_similarity, cosine_similarity_grad, dot, projection

__all__ = [
    "MultiHeadGradients", "additive_mask", "attention", "attention_backward", "causal_mask", "central_difference",
    "cosine_similarity", "cosine_similarity_grad", "cross_entropy", "cross_entropy_grad", "directional_difference",
    "dot", "embed", "embedding_backward", "layer_norm", "layer_norm_backward", "layer_norm_jacobian", "log_softmax",
    "log_softmax_jacobian", "mlm_loss", "mlm_loss_grad", "mlm_mask", "multi_head_attention",
    "multi_head_attention_backward", "multi_head_parameter_count", "one_hot", "padding_mask", "projection", "rope",
    "rope_frequencies", "rope_matrix", "rope_permutation", "rotation_matrix", "safe_row_softmax", "sinusoidal_encoding",
    "sinusoidal_frequencies", "softmax", "softmax_jacobian", "tied_embedding_backward", "tied_logits",
]
