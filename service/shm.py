"""System shared memory (Triton's extension): clients on the same host register POSIX shared
memory regions, then tensors name a region, offset and size instead of carrying their bytes.

Regions are opened read-write from /dev/shm by key and mapped; the server never creates or
unlinks them (the client owns them). CUDA shared memory needs a GPU and a CUDA build of the
server, which this one is not: its calls answer UNAVAILABLE.
"""

from __future__ import annotations

import logging
import mmap
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import grpc

from .errors import InvalidInput, NotFound, Unavailable

log = logging.getLogger(__name__)

SHM_ROOT = Path("/dev/shm")


@dataclass(frozen=True)
class ShmRef:
    """Where a tensor lives: a registered region, an offset in it and a byte size."""

    region: str
    offset: int
    byte_size: int


@dataclass
class Region:
    name: str
    key: str
    offset: int
    byte_size: int
    mapping: mmap.mmap


class SharedMemoryRegistry:
    """The registered system shared memory regions of one server."""

    def __init__(self) -> None:
        self._regions: dict[str, Region] = {}
        self._lock = threading.Lock()

    def register(self, name: str, key: str, offset: int, byte_size: int) -> None:
        if not name or not key:
            raise InvalidInput("registering system shared memory needs a region name and a "
                               "key (the shm_open name)")
        with self._lock:
            if name in self._regions:
                raise _AlreadyExists(f"shared memory region '{name}' already in manager; "
                                     "unregister it first")
            self._regions[name] = _open_region(name, key, offset, byte_size)
        log.info("registered system shared memory '%s' (key %s, %d bytes)", name, key,
                 byte_size)

    def unregister(self, name: str = "") -> None:
        """Unregister one region, or every region when `name` is empty."""
        with self._lock:
            names = [name] if name else list(self._regions)
            for region_name in names:
                region = self._regions.pop(region_name, None)
                if region is not None:
                    _close(region)

    def status(self, name: str = "") -> list[Region]:
        with self._lock:
            if not name:
                return list(self._regions.values())
            if name not in self._regions:
                raise NotFound(f"Unable to find system shared memory region: '{name}'")
            return [self._regions[name]]

    def view(self, ref: ShmRef, size: int | None = None) -> memoryview:
        """The bytes a tensor reference points at (`size` bytes, or its byte_size)."""
        with self._lock:
            region = self._regions.get(ref.region)
        if region is None:
            raise InvalidInput(f"Unable to find system shared memory region: '{ref.region}'; "
                               "register it before using it in a request")
        wanted = ref.byte_size if size is None else size
        if ref.offset < 0 or ref.offset + wanted > region.byte_size:
            raise InvalidInput(f"shared memory region '{ref.region}' has {region.byte_size} "
                               f"bytes; offset {ref.offset} + {wanted} bytes runs past its end")
        start = region.offset + ref.offset
        return memoryview(region.mapping)[start:start + wanted]

    def write(self, ref: ShmRef, data: bytes) -> None:
        if len(data) > ref.byte_size:
            raise InvalidInput(f"output needs {len(data)} bytes but its shared memory "
                               f"(region '{ref.region}') gives it {ref.byte_size}; give it more")
        self.view(ref, len(data))[:] = data

    def close(self) -> None:
        self.unregister()


def _open_region(name: str, key: str, offset: int, byte_size: int) -> Region:
    path = SHM_ROOT / key.lstrip("/")
    if "/" in key.lstrip("/") or not path.exists():
        raise InvalidInput(f"Unable to open shared memory region '{name}': no POSIX shared "
                           f"memory with key '{key}' on this host (the server reads {SHM_ROOT})")
    fd = os.open(path, os.O_RDWR)
    try:
        size = os.fstat(fd).st_size
        if offset < 0 or byte_size <= 0 or offset + byte_size > size:
            raise InvalidInput(f"shared memory '{key}' has {size} bytes; offset {offset} + "
                               f"byte_size {byte_size} does not fit in it")
        mapping = mmap.mmap(fd, size)
    finally:
        os.close(fd)
    return Region(name, key, offset, byte_size, mapping)


def _close(region: Region) -> None:
    try:
        region.mapping.close()
    except BufferError:
        pass  # a request still reads it; the mapping closes when that view is released


class _AlreadyExists(InvalidInput):
    code = grpc.StatusCode.ALREADY_EXISTS


def cuda_unavailable(what: str) -> Unavailable:
    return Unavailable(f"CUDA shared memory is not available: this server has no CUDA "
                       f"shared memory support ({what} refused); use system shared memory "
                       "or send tensors in the request")
