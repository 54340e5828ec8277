"""The imaging model shared by methods, losses and metrics: MTF degradation and upsampling (numpy in
:mod:`.degradation`, torch in :mod:`.torch_ops`) and the residual MS-PAN registration."""
