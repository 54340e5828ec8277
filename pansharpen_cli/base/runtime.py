"""Process settings the entry points make once (the CLI, batch workers); library code never does.

:func:`keep_freed_memory` tells glibc's allocator to serve large blocks from its heap and to keep
freed memory for reuse instead of giving it back to the system at once. Torch and numpy allocate
and free tensors of tens of megabytes on every tile and every step; by default each of them is a
fresh ``mmap`` whose pages the kernel zero-fills on first touch: the system time that cost was a
quarter of the user time of a prior-only fusion (5.0 of 21 s on a 2560x2560 x 8-band scene, 1.1 s with these
settings, wall 16.0 -> 12.6 s), and the network's forward pass on a 512x512 x 8-band sub-tile went
from 170 to 130 ms on 2 cores (``python bench/network_speed.py --no-heap`` against without). The peak
resident memory stays about what the peak use is: the freed memory is reused, and the heap is
trimmed when more than :data:`TRIM_BYTES` lie free at its top (a 20000x20000 prior-only fusion
peaked at 828 MiB).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

#: Free memory at the top of the heap beyond which glibc gives it back (256 MiB).
TRIM_BYTES = 256 * 1024 * 1024
# mallopt parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4


@functools.cache
def keep_freed_memory() -> bool:
    """Set glibc's allocator up as described above (once per process: the result is cached).

    Returns:
        True when the settings were made; False where the C library is not glibc (macOS,
        Windows, musl), which is left as it is.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return all(mallopt(k, v) for k, v in ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, TRIM_BYTES)))
