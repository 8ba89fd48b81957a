"""Raw array kernels, no autograd: windows (im2col/col2im), convolution, pooling, padding arithmetic.

Pure functions of ndarrays with clean signatures, so a faster implementation
can replace any of them; ``reference`` keeps the plain versions tests compare against.
"""
