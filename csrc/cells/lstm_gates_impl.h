/* Body of lstm_gates.c (the plain LSTM's tuned kernels) for one precision and one instruction
 * set, included by rt/isa_copies.h. Not a standalone header. Needs REAL, SFX(name), KSFX(name)
 * (rt/dispatch.h), the V512* names of the precision's AVX-512 intrinsics, math/activations.h and
 * cells/cells.h. Its parts, in the order they need each other:
 *   math/spans_impl.h                 activations over spans (shared with cells.c)
 *   cells/lstm_cell_impl.h            the LSTM's gate maths over a row (shared with cells.c)
 *   cells/lstm_rows_impl.h            those over rows (the BLAS path), row sums
 *   rt/rows_impl.h                    a plan's rows gathered and streamed in the caller's order
 *   seq/lstm_packed_impl.h            the packed step and sequence: panels fused with gate maths
 *   gemm/packed_impl.h                products with packed weights (the backward's)
 *   seq/lstm_packed_backward_impl.h   the packed backward through time
 * The gate maths are those of the generic cell (one source); what is the plain LSTM's own is how
 * its products feed them: one panel's products at a time, while they are still in cache.
 */
#include "math/spans_impl.h"
#include "cells/lstm_cell_impl.h"
#include "cells/lstm_rows_impl.h"
#include "rt/rows_impl.h"
#include "seq/lstm_packed_impl.h"
#include "gemm/packed_impl.h"
#include "seq/lstm_packed_backward_impl.h"
