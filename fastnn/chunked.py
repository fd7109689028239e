"""Data larger than memory: the rows of a 2-D array kept in a file, read one chunk at a time.

:class:`ChunkedRows` stands for an (n_samples, n_features) array stored row after row (C
order) in a file -- a ``.npy`` file (:func:`open_npy`) or the file behind a ``np.memmap``
(:func:`chunked_rows`). It reads a chunk of consecutive rows with a plain file read into one
buffer, so the file is never mapped: neither the address space nor the resident memory of
the process grows with the file, only with the chunk. The estimators' ``fit``,
``partial_fit`` and prediction take such rows (or a ``np.memmap``) and go through them
chunk by chunk; :class:`ChunkOrder` is the order of the rows an epoch visits: the chunks in
a random order, the rows of each shuffled within it.
"""
from __future__ import annotations

import mmap
import os

import numpy as np

#: Bytes of one chunk of rows (in the training dtype), unless a reader is given another size.
CHUNK_BYTES = 32 << 20


class ChunkedRows:
    """Rows of a C-order 2-D array read from a file (or from an array) one chunk at a time.

    Parameters
    ----------
    path : str or None
        The file. None reads from ``array`` instead.
    shape : (int, int)
        (n_samples, n_features).
    file_dtype : numpy dtype
        The dtype of the stored values (any integer, unsigned or float dtype).
    offset : int
        The position in the file of the first value of row 0.
    dtype : numpy dtype, optional
        The dtype the rows are given in (default: ``file_dtype``); each chunk is converted.
    chunk_bytes : int
        About how many bytes (in ``dtype``) a chunk holds; at least one row.
    array : array-like, optional
        Rows read by slicing this 2-D array, when there is no file to read (a ``np.memmap``
        opened copy-on-write, or not in C order): the pages it touches then count in the
        process's resident memory until the system reclaims them.

    It has the ``shape``, ``ndim``, ``dtype`` and ``itemsize`` of the array it stands for;
    ``rows[index]`` (an int array or a slice) gathers rows into a new ndarray, reading only
    the chunks that hold them and keeping the last chunk read for the next call; ``np.asarray``
    reads every row (use it only for data that fits in memory).
    """

    ndim = 2

    def __init__(self, path, shape, file_dtype, offset=0, dtype=None, chunk_bytes=CHUNK_BYTES,
                 array=None):
        self.path, self.offset, self.array = path, int(offset), array
        self.shape = (int(shape[0]), int(shape[1]))
        self.file_dtype = np.dtype(file_dtype)
        self.dtype = self.file_dtype if dtype is None else np.dtype(dtype)
        if self.file_dtype.kind not in "biuf" or self.dtype.kind not in "biuf":
            raise ValueError(f"rows must be numeric, got dtype {self.file_dtype}")
        self.chunk_bytes = int(chunk_bytes)
        row_bytes = max(1, self.shape[1] * max(self.dtype.itemsize, self.file_dtype.itemsize))
        self.chunk_rows = max(1, self.chunk_bytes // row_bytes)
        self._cached = (None, None)   # (chunk number, its rows)

    @property
    def itemsize(self):
        return self.dtype.itemsize

    @property
    def n_chunks(self):
        return -(-self.shape[0] // self.chunk_rows)

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        where = self.path if self.path is not None else type(self.array).__name__
        return (f"ChunkedRows({where!r}, shape={self.shape}, dtype={self.dtype}, "
                f"{self.n_chunks} chunks of {self.chunk_rows} rows)")

    def with_dtype(self, dtype):
        """The same rows given in ``dtype``."""
        return ChunkedRows(self.path, self.shape, self.file_dtype, self.offset, dtype,
                           self.chunk_bytes, self.array)

    def subset(self, start, stop):
        """The rows ``start:stop`` as a reader of their own (no row is read)."""
        start, stop, _ = slice(start, stop).indices(self.shape[0])
        stop = max(start, stop)
        shape = (stop - start, self.shape[1])
        if self.path is None:
            return ChunkedRows(None, shape, self.file_dtype, 0, self.dtype, self.chunk_bytes,
                               self.array[start:stop])
        offset = self.offset + start * self.shape[1] * self.file_dtype.itemsize
        return ChunkedRows(self.path, shape, self.file_dtype, offset, self.dtype,
                           self.chunk_bytes)

    def read(self, start, stop):
        """Rows ``start:stop`` as a new C-contiguous ndarray of ``dtype``.

        Raises
        ------
        ValueError
            When the file ends before those rows (it was truncated after it was opened).
        """
        d = self.shape[1]
        if self.path is None:
            block = np.asarray(self.array[start:stop])
            return np.ascontiguousarray(block, dtype=self.dtype)
        block = np.empty((stop - start, d), dtype=self.file_dtype)
        with open(self.path, "rb") as f:
            f.seek(self.offset + start * d * self.file_dtype.itemsize)
            got = f.readinto(memoryview(block).cast("B"))
        if got != block.nbytes:
            raise ValueError(f"{self.path} ends before row {stop} of the {self.shape[0]} rows "
                             f"it was opened with (was it truncated?)")
        return block.astype(self.dtype, copy=False)

    def chunk(self, k):
        """The rows of chunk ``k`` (rows k * chunk_rows onwards), kept until another is read."""
        number, rows = self._cached
        if number != k:
            self._cached = (None, None)   # the old chunk is freed before the new one is read
            start = k * self.chunk_rows
            rows = self.read(start, min(self.shape[0], start + self.chunk_rows))
            self._cached = (k, rows)
        return rows

    def chunks(self):
        """Yield ``(start, rows)`` for each chunk, in order."""
        for k in range(self.n_chunks):
            yield k * self.chunk_rows, self.chunk(k)

    def __getitem__(self, index):
        if isinstance(index, slice):
            index = np.arange(*index.indices(self.shape[0]))
        index = np.asarray(index)
        if index.ndim != 1 or index.dtype.kind not in "iu":
            raise IndexError(f"ChunkedRows takes a slice or a 1-D array of row numbers, got "
                             f"{index!r:.60}")
        index = np.where(index < 0, index + self.shape[0], index).astype(np.int64)
        if index.size and (index.min() < 0 or index.max() >= self.shape[0]):
            raise IndexError(f"row numbers out of range for {self.shape[0]} rows")
        out = np.empty((index.size, self.shape[1]), dtype=self.dtype)
        number = index // self.chunk_rows
        found, first = np.unique(number, return_index=True)
        for k in found[np.argsort(first)]:    # chunks in the order their rows are asked for
            where = np.flatnonzero(number == k)
            out[where] = self.chunk(int(k))[index[where] - k * self.chunk_rows]
        return out

    def __array__(self, dtype=None, copy=None):
        rows = self.read(0, self.shape[0])
        return rows if dtype is None else rows.astype(dtype, copy=False)

    def first_non_finite(self):
        """The number of the first row holding a NaN or an infinity, or None; reads every
        chunk once."""
        if self.file_dtype.kind != "f":
            return None
        for start, rows in self.chunks():
            bad = ~np.isfinite(rows).all(axis=1)
            if bad.any():
                return start + int(np.argmax(bad))
        return None


def open_npy(path, chunk_bytes=CHUNK_BYTES):
    """The rows of the 2-D array in the ``.npy`` file ``path``, as :class:`ChunkedRows`,
    from the file's header alone: nothing is read or mapped but the header.

    Raises
    ------
    ValueError
        When ``path`` is not a ``.npy`` file, holds no 2-D numeric array, is stored in
        Fortran order, or is shorter than its header says.
    """
    from numpy.lib import format as npy

    try:
        with open(path, "rb") as f:
            version = npy.read_magic(f)
            header = (npy.read_array_header_1_0 if version == (1, 0)
                      else npy.read_array_header_2_0)
            shape, fortran_order, dtype = header(f)
            offset = f.tell()
    except (ValueError, EOFError) as exc:
        raise ValueError(f"{path} is not a NumPy .npy file (written by numpy.save): "
                         f"{exc}") from None
    if len(shape) != 2 or dtype.kind not in "biuf":
        raise ValueError(f"{path} must hold a 2-D numeric array, got shape {shape} and "
                         f"dtype {dtype}")
    if fortran_order:
        raise ValueError(f"{path} is stored in Fortran order; rows are read one chunk at a "
                         f"time from C order: save np.ascontiguousarray(X) instead")
    needed = offset + shape[0] * shape[1] * dtype.itemsize
    if os.path.getsize(path) < needed:
        raise ValueError(f"{path} is shorter ({os.path.getsize(path)} bytes) than its "
                         f"{shape} array of {dtype} needs ({needed} bytes): truncated?")
    return ChunkedRows(os.fspath(path), shape, dtype, offset, chunk_bytes=chunk_bytes)


def chunked_rows(X, chunk_bytes=CHUNK_BYTES):
    """``X`` as :class:`ChunkedRows` when it is one or is a 2-D ``np.memmap``, else None
    (an in-memory array: the caller validates it as usual).

    A memmap in C order opened read-only or read-write (``np.load(path, mmap_mode="r")``,
    ``np.memmap(...)``, or a slice of rows of one) is read from its file, at the position of
    its first row; any other memmap through its mapping.
    """
    if isinstance(X, ChunkedRows):
        return X
    if not isinstance(X, np.memmap) or X.ndim != 2:
        return None
    root = X
    while isinstance(root.base, np.ndarray):
        root = root.base
    from_file = (isinstance(root.base, mmap.mmap) and getattr(root, "filename", None)
                 and X.flags.c_contiguous and X.mode in ("r", "r+", "w+"))
    if not from_file:
        return ChunkedRows(None, X.shape, X.dtype, chunk_bytes=chunk_bytes, array=X)
    position = root.offset + (X.__array_interface__["data"][0]
                              - root.__array_interface__["data"][0])
    return ChunkedRows(root.filename, X.shape, X.dtype, position, chunk_bytes=chunk_bytes)


class ChunkOrder:
    """The epochs' orders of n rows grouped in consecutive blocks (the rows of a chunk):
    every epoch visits the blocks in a new random order and the rows of each block in a new
    random order, both drawn from the legacy ``RandomState`` ``random_state`` (0..n-1 when
    ``shuffle`` is False). So an epoch reads each chunk once, where a permutation of all the
    rows would read a chunk for almost every row.

    ``bounds`` holds the first row of each block and, last, n.
    """

    def __init__(self, bounds, random_state, shuffle=True):
        self.bounds = np.asarray(bounds, dtype=np.int64)
        self.random_state, self.shuffle = random_state, bool(shuffle)

    def next(self):
        n = int(self.bounds[-1])
        if not self.shuffle:
            return np.arange(n, dtype=np.int64)
        starts, stops = self.bounds[:-1], self.bounds[1:]
        blocks = self.random_state.permutation(len(starts))
        parts = [starts[k] + self.random_state.permutation(stops[k] - starts[k])
                 for k in blocks]
        if not parts:
            return np.arange(0, dtype=np.int64)
        return np.concatenate(parts).astype(np.int64, copy=False)

    def state(self):
        return self.random_state.get_state() if self.shuffle else None

    def set_state(self, state):
        if state is not None:
            self.random_state.set_state(state)
