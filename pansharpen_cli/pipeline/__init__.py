"""The only join of files and numerics: fuse, simulate/evaluate, pretrain."""
