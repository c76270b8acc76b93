"""The functional core: the compiled modules looping over a cell (``_lstm``: the plain LSTM's tuned
kernels; ``_cells``: the sequence drivers of every cell of csrc/cells), the BLAS wrappers
(``_blas``), the input checks (``_validate``, ``_lstm_options``), the caches (``_cache``), threads
(``_threads``, ``_env``) and the choice between the compiled engine and the NumPy reference
(``_backend``). Its public names are re-exported by ``lstmcore``."""
