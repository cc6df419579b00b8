"""Independent NumPy implementations: the numeric oracles the symbolic results are checked against.

Nothing here imports SymPy or the derivation engine, so a bug in one cannot hide a bug in the other.

>>> from symformer.reference import softmax
>>> softmax([0.0, 0.0]).tolist()
[0.5, 0.5]
"""

from symformer.reference.activations import (
    gelu,
    gelu_grad,
    sigmoid,
    silu,
    silu_grad,
    swiglu,
    swiglu_backward,
)
from symformer.reference.alibi import alibi_bias, alibi_slopes
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
from symformer.reference.grouped_attention import (
    grouped_query_attention,
    grouped_query_attention_backward,
    grouped_query_parameter_count,
)
from symformer.reference.kv_cache import decode_with_kv_cache, kv_cache_size
from symformer.reference.layernorm import layer_norm, layer_norm_backward, layer_norm_jacobian
from symformer.reference.mlm import mlm_loss, mlm_loss_grad, mlm_mask
from symformer.reference.norms import rms_norm, rms_norm_backward, rms_norm_jacobian
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
    "additive_mask", "alibi_bias", "alibi_slopes", "attention", "attention_backward", "causal_mask",
    "central_difference", "cosine_similarity", "cosine_similarity_grad", "cross_entropy", "cross_entropy_grad",
    "decode_with_kv_cache", "directional_difference", "dot", "embed", "embedding_backward", "gelu", "gelu_grad",
    "grouped_query_attention", "grouped_query_attention_backward", "grouped_query_parameter_count", "kv_cache_size",
    "layer_norm", "layer_norm_backward", "layer_norm_jacobian", "log_softmax", "log_softmax_jacobian", "mlm_loss",
    "mlm_loss_grad", "mlm_mask", "multi_head_attention", "multi_head_attention_backward",
    "multi_head_parameter_count", "MultiHeadGradients", "one_hot", "padding_mask", "projection", "rms_norm",
    "rms_norm_backward", "rms_norm_jacobian", "rope", "rope_frequencies", "rope_matrix", "rope_permutation",
    "rotation_matrix", "safe_row_softmax", "sigmoid", "silu", "silu_grad", "sinusoidal_encoding",
    "sinusoidal_frequencies", "softmax", "softmax_jacobian", "swiglu", "swiglu_backward", "tied_embedding_backward",
    "tied_logits",
]
