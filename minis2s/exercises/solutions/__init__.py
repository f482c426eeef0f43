"""Reference solutions of the exercises: the library's own backward passes.

The grader compares a learner's gradients with them once the gradient check has said which
are wrong (the check itself uses only finite differences). Each backward has one
implementation, the one in :mod:`minis2s.functional` that the lessons show and the models
run; it is written against the named cache of its forward, as the learner's stub is.
"""

from ...functional.attention import additive_attention_backward
from ...functional.bridge import bridge_state_backward
from ...functional.gru import gru_backward, gru_step_backward
from ...functional.layernorm import layernorm_backward
from ...functional.linear import affine_backward, embedding_backward
from ...functional.losses import softmax_cross_entropy_backward
from ...functional.lstm import lstm_backward, lstm_step_backward
from ...functional.multihead import attention_heads_backward
from ...functional.positional import sentence_position_backward
from ...functional.rnn import rnn_backward, rnn_step_backward

# the label_smoothed_cross_entropy exercise is graded against softmax_cross_entropy_backward,
# which handles every eps: there is one backward, not one per exercise
__all__ = ["affine_backward", "softmax_cross_entropy_backward", "rnn_step_backward", "rnn_backward",
           "lstm_step_backward", "gru_step_backward", "additive_attention_backward",
           "embedding_backward", "lstm_backward", "gru_backward", "bridge_state_backward",
           "attention_heads_backward", "layernorm_backward", "sentence_position_backward"]
