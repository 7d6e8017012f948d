/*
 * adjoint — reverse-mode automatic differentiation in C11.
 *
 * One header for everything:
 *   adjoint/core.h   status codes, tapes, variables, backward, parameters
 *   adjoint/ops.h    the differentiable operations and the op table
 *   adjoint/check.h  gradient checking against finite differences
 *   adjoint/rng.h    the seeded random number generator
 *   adjoint/nn.h     layers, initialisers, MLPs, metrics
 *   adjoint/optim.h  optimizers, gradient clipping, learning-rate schedules
 *   adjoint/io.h     IDX and CSV data sets, mini-batches, model files
 *   adjoint/safetensors.h  safetensors files (read, checked, written)
 *   adjoint/model.h  models of any architecture (a registry), saved as safetensors
 *   adjoint/rnn.h    recurrent layers: RNN, LSTM, GRU
 *   adjoint/text.h   text and token corpora for language models
 *   adjoint/forward.h forward mode (Jacobian-vector products)
 *   adjoint/export.h ADJ_API, the mark of every exported function
 *   adjoint/teach.h  tape tables, chain-rule traces, Graphviz DOT, the
 *                    lecture-notes examples
 *
 * A minimal program:
 *
 *     #include <adjoint.h>
 *     adj_tape *t = adj_tape_new();
 *     adj_var *x = adj_scalar(t, 2.0);
 *     adj_var *y = adj_sqrt(adj_add(adj_square(x), adj_exp(adj_square(x))));
 *     if (adj_backward(y) != ADJ_OK)
 *         fprintf(stderr, "%s\n", adj_tape_message(t));
 *     printf("f = %g, df/dx = %g\n", adj_item(y), adj_grad_item(x));
 *     adj_tape_free(t);
 *
 * Link with -ladjoint (pkg-config --cflags --libs adjoint).
 */
#ifndef ADJOINT_H
#define ADJOINT_H

#include "adjoint/core.h"
#include "adjoint/ops.h"
#include "adjoint/conv.h"
#include "adjoint/norm.h"
#include "adjoint/check.h"
#include "adjoint/rng.h"
#include "adjoint/nn.h"
#include "adjoint/optim.h"
#include "adjoint/io.h"
#include "adjoint/safetensors.h"
#include "adjoint/model.h"
#include "adjoint/rnn.h"
#include "adjoint/text.h"
#include "adjoint/train.h"
#include "adjoint/bpe.h"
#include "adjoint/forward.h"
#include "adjoint/teach.h"
#include "adjoint/attention.h"
#include "adjoint/extend.h"

#endif
