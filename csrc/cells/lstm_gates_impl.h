/* Body of lstm_gates.c (the plain LSTM's tuned kernels) for one precision and one instruction
 * set, included by rt/isa_copies.h. Not a standalone header. Needs REAL, SFX(name), KSFX(name)
 * (rt/dispatch.h), the V512* / V128* names of the precision's AVX-512 intrinsics, and
 * math/activations.h. Its parts, in the order they need each other:
 *   cells/lstm_rows_impl.h            gate maths over rows (the BLAS path), row sums
 *   seq/lstm_packed_impl.h            the packed step and sequence: panels fused with gate maths
 *   gemm/packed_impl.h                products with packed weights (the backward's)
 *   seq/lstm_packed_backward_impl.h   the packed backward through time
 * The generic cells (cells/cells_impl.h) have their gate maths apart from the drivers; the plain
 * LSTM's packed path fuses them into its panels, which is where its speed comes from.
 */
#include "cells/lstm_rows_impl.h"
#include "seq/lstm_packed_impl.h"
#include "gemm/packed_impl.h"
#include "seq/lstm_packed_backward_impl.h"
