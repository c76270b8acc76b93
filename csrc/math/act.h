/* An activation as the kernels take it: a code and its parameters (ONNX's alpha and beta).
 * The codes are those of lstmcore.engine._validate.CELL_ACTIVATIONS; the plain LSTM's int codes
 * (activations.h's LSTMCORE_TANH..LSTMCORE_LINEAR) are the first four. */
#ifndef LSTMCORE_MATH_ACT_H
#define LSTMCORE_MATH_ACT_H

enum {
    LC_TANH = 0, LC_RELU = 1, LC_SIGMOID = 2, LC_LINEAR = 3, LC_HARD_SIGMOID = 4,
    LC_LEAKY_RELU = 5, LC_THRESHOLDED_RELU = 6, LC_SCALED_TANH = 7, LC_AFFINE = 8, LC_ELU = 9,
    LC_SOFTSIGN = 10, LC_SOFTPLUS = 11
};

typedef struct {
    int code;             /* LC_* */
    double alpha, beta;   /* the parameters, defaults filled in by the caller */
} lc_act;

#endif /* LSTMCORE_MATH_ACT_H */
