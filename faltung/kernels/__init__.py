"""Raw array kernels, no autograd: two sets of the same functions, and the padding arithmetic both use.

``reference`` computes the lecture's formulas plainly (im2col + one matrix product, col2im
for the input gradient); ``fast`` computes the same results with chunking, threads and
reused buffers. ``faltung.backend`` chooses which set the functional ops call; nothing
else imports a set directly (except tests and benchmarks that compare them).
"""
