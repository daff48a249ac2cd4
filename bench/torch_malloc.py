"""torch_malloc.py — keep glibc's malloc from handing PyTorch's large tensors back to the kernel
after every step, so that the PyTorch side of a benchmark is timed at its best, not at glibc's worst.

Why: PyTorch's CPU allocator takes every activation from malloc and frees it after use. glibc
serves blocks above its mmap threshold (128 KiB, raised on the fly up to 32 MiB) with mmap and
returns them with munmap, so such a block costs one page fault per 4 KiB page each time it is
touched again. Whether the threshold has risen before the big tensors come depends on the order of
frees, so one process runs at 250 img/s and the next at 850 (tiny, inference, batch 16, on the
2-CPU EPYC of docs/PERFORMANCE.md: 375,000 page faults against 49,000). Intel's and PyTorch's CPU
tuning guides swap in jemalloc or tcmalloc for this reason; mallopt does the same with glibc alone:
no mmap for blocks (M_MMAP_MAX 0), no trimming of the heap (M_TRIM_THRESHOLD), 256 MiB top pad.

Call tune() before the first tensor is made. Docs: man 3 mallopt,
https://pytorch.org/tutorials/recipes/recipes/tuning_guide.html (switch memory allocator).
"""
import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_MAX = -4


def tune(mode):
    """mode "tuned": the settings above (returns True where glibc took them); "default": leave glibc as it is."""
    if mode == "default":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(M_MMAP_MAX, 0) == 1
        ok &= libc.mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1
        ok &= libc.mallopt(M_TOP_PAD, 256 << 20) == 1
        return bool(ok)
    except (OSError, AttributeError):  # not glibc: nothing to tune
        return False
