"""Reference solutions of the exercises, one module per exercise.

They are the truth the grader compares a learner's gradients with once the gradient check
has said which are wrong (the check itself uses only finite differences). Each is written
against the named cache of the library's own forward (``minis2s.functional``), as a learner
would write it.
"""

from .additive_attention import additive_attention_backward
from .affine import affine_backward
from .gru_step import gru_step_backward
from .lstm_step import lstm_step_backward
from .rnn_sequence import rnn_backward
from .rnn_step import rnn_step_backward
from .softmax_cross_entropy import softmax_cross_entropy_backward

__all__ = ["affine_backward", "softmax_cross_entropy_backward", "rnn_step_backward", "rnn_backward",
           "lstm_step_backward", "gru_step_backward", "additive_attention_backward"]
