"""The model repository: finds model folders, loads their versions, and swaps reloads in.

A model folder is `<name>/config.pbtxt` (optional) and `<name>/<version>/model.onnx`.
Folders with neither (such as `samples/`) are not models. A model that fails to load keeps
its reason for RepositoryIndex and the log; the others serve on.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

from contract.batching import is_batched
from contract.metadata import MetadataError, ModelMetadata, parse_metadata

from .config import ModelConfig, check_served, complete_config, parameters_of, read_config
from .errors import ModelLoadError, ModelNotFound, ModelNotReady, StriateError
from .names import check_model_name
from .runtime import OnnxRuntime, RuntimeOptions
from .scheduler import BatchingPolicy, Scheduler
from .sequence import SequenceBatcher, check_sequence_config
from .settings import Settings
from .signature import Signature, signature_of
from .stats import Metrics, ModelStats
from .warmup import warmup_feeds
from .worker import WorkerRuntime

log = logging.getLogger(__name__)

READY, LOADING, UNAVAILABLE = "READY", "LOADING", "UNAVAILABLE"
NAMES_SHOWN = 5  # unknown-model errors list at most this many of the repository's models


@dataclass(frozen=True)
class LoadOverride:
    """A load request's replacement config and/or model folder (Triton's `config` and
    `file:` parameters)."""

    config: ModelConfig | None = None
    directory: Path | None = None


@dataclass
class LoadedModel:
    """One ready version of a model: its config, typed metadata, runtime, scheduler and
    statistics."""

    name: str
    version: str
    directory: Path
    config: ModelConfig
    metadata: ModelMetadata
    runtime: OnnxRuntime
    scheduler: Scheduler
    stats: ModelStats
    sequencer: SequenceBatcher | None = None
    signature: Signature = field(init=False)

    def __post_init__(self) -> None:
        self.signature = signature_of(self.config)


@dataclass
class ModelEntry:
    """What the repository knows of one model folder."""

    name: str
    state: str = UNAVAILABLE
    reason: str = "not loaded"
    versions: dict[str, LoadedModel] = field(default_factory=dict)
    known_versions: list[str] = field(default_factory=list)


def is_model_folder(path: Path) -> bool:
    if not path.is_dir() or path.name.startswith("."):
        return False
    return (path / "config.pbtxt").exists() or any(
        child.is_dir() and child.name.isdigit() for child in path.iterdir()
    )


def _versions_on_disk(directory: Path, filename: str) -> list[int]:
    return sorted(int(p.name) for p in directory.iterdir()
                  if p.is_dir() and p.name.isdigit() and (p / filename).exists())


def select_versions(config: ModelConfig, available: list[int]) -> list[int]:
    """The versions the config's version_policy serves (default: the latest one)."""
    policy = config.version_policy
    choice = policy.WhichOneof("policy_choice")
    if choice == "all":
        return available
    if choice == "specific":
        return [v for v in available if v in set(policy.specific.versions)]
    count = policy.latest.num_versions if choice == "latest" else 1
    return available[-max(1, count):]


class ModelRepository:
    """All models of one repository folder, and their lifecycle."""

    def __init__(self, settings: Settings, executor: Executor, metrics: Metrics) -> None:
        self.root = settings.model_repository
        self.settings = settings
        self._executor = executor
        self.metrics = metrics
        self.entries: dict[str, ModelEntry] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def folder_names(self) -> list[str]:
        if not self.root.is_dir():
            raise SystemExit(f"model repository {self.root} is not a folder")
        return sorted(p.name for p in self.root.iterdir() if is_model_folder(p))

    def get(self, name: str, version: str = "") -> LoadedModel:
        """A ready model version: the latest served one when `version` is empty."""
        check_model_name(name, version)
        entry = self.entries.get(name)
        if entry is None and is_model_folder(self.root / name):
            raise ModelNotReady(f"model '{name}' is not loaded; load it with "
                                "RepositoryModelLoad")
        if entry is None:
            raise ModelNotFound(f"Request for unknown model: '{name}' is not found; "
                                f"{self.some_names()}")
        if entry.state != READY or not entry.versions:
            raise ModelNotReady(f"model '{name}' is {entry.state.lower()}: {entry.reason}")
        if not version:
            return entry.versions[max(entry.versions, key=int)]
        if version not in entry.versions:
            raise ModelNotFound(f"model '{name}' has no version '{version}' being served; "
                                f"served versions: {sorted(entry.versions, key=int)}")
        return entry.versions[version]

    def some_names(self) -> str:
        """A short list of the models served, for error messages."""
        names = sorted(self.entries)
        if not names:
            return "the repository serves no models"
        shown = ", ".join(f"'{n}'" for n in names[:NAMES_SHOWN])
        more = f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else ""
        return f"served models: {shown}{more}"

    def ready_models(self) -> list[LoadedModel]:
        return [e.versions[max(e.versions, key=int)] for e in self.entries.values()
                if e.state == READY and e.versions]

    async def load(self, name: str, override: LoadOverride | None = None) -> ModelEntry:
        """Load (or reload) a model. In-flight requests on the old versions finish first."""
        check_model_name(name)
        async with self._locks.setdefault(name, asyncio.Lock()):
            entry = self.entries.setdefault(name, ModelEntry(name))
            previous = dict(entry.versions)
            if not previous:
                entry.state, entry.reason = LOADING, "loading"
            try:
                fresh = await self._load_versions(name, override or LoadOverride())
            except StriateError as exc:
                log.error("model '%s' failed to load: %s", name, exc.message)
                if not previous:
                    entry.state, entry.reason = UNAVAILABLE, exc.message
                raise
            entry.versions, entry.state, entry.reason = fresh, READY, ""
            entry.known_versions = sorted(fresh, key=int)
            log.info("model '%s' ready (versions %s)", name, ", ".join(entry.known_versions))
            for old in previous.values():
                await self._retire(old)
            return entry

    async def unload(self, name: str) -> None:
        """Unload every version; a model that is not loaded is left as it is (as Triton)."""
        check_model_name(name)
        entry = self.entries.get(name)
        if entry is None or not entry.versions:
            log.info("unload of '%s': not loaded, nothing to do", name)
            return
        async with self._locks.setdefault(name, asyncio.Lock()):
            old, entry.versions = entry.versions, {}
            entry.state, entry.reason = UNAVAILABLE, "unloaded"
            for model in old.values():
                await self._retire(model)
        log.info("model '%s' unloaded", name)

    async def unload_all(self) -> None:
        for name in list(self.entries):
            if self.entries[name].versions:
                await self.unload(name)

    async def _retire(self, model: LoadedModel) -> None:
        await model.scheduler.stop()
        model.runtime.unload()

    async def _load_versions(self, name: str, override: LoadOverride) -> dict[str, LoadedModel]:
        directory = override.directory or self.root / name
        if override.config is None and not is_model_folder(directory):
            raise ModelNotFound(f"the repository has no model folder '{name}'")
        config = read_config(directory)
        if override.config is not None:
            config = ModelConfig()
            config.CopyFrom(override.config)
            if config.name and config.name != name:
                raise ModelLoadError(f"the config override names the model '{config.name}', "
                                     f"not '{name}'")
            config.name = name
        check_served(config)
        check_sequence_config(config)
        metadata = read_metadata(name, config)
        check_label_files(name, directory, config)
        filename = config.default_model_filename or "model.onnx"
        available = _versions_on_disk(directory, filename)
        versions = select_versions(config, available)
        if not versions:
            raise ModelLoadError(f"model '{name}' has no version folder with {filename} that "
                                 f"its version policy serves (found versions {available})")
        loop = asyncio.get_running_loop()
        loaded: dict[str, LoadedModel] = {}
        try:
            for version in versions:
                path = directory / str(version) / filename
                runtime_type = WorkerRuntime if self.settings.model_isolation == "process" \
                    else OnnxRuntime
                runtime = runtime_type(path, self._runtime_options(config, metadata))
                await loop.run_in_executor(self._executor, runtime.load)
                completed = complete_config(config, runtime.inputs, runtime.outputs)
                if completed.model_warmup:
                    await loop.run_in_executor(self._executor, run_warmup, completed, runtime,
                                               directory)
                else:
                    await loop.run_in_executor(self._executor, runtime.warm_up,
                                               is_batched(completed))
                loaded[str(version)] = self._start(name, str(version), directory, completed,
                                                   metadata, runtime)
        except BaseException:
            for model in loaded.values():
                await self._retire(model)
            raise
        return loaded

    def _start(self, name: str, version: str, directory: Path, config: ModelConfig,
               metadata: ModelMetadata, runtime: OnnxRuntime) -> LoadedModel:
        stats = ModelStats(name, version, self.metrics)
        scheduler = Scheduler(f"{name}", runtime.infer, self._policy(config), stats,
                              self._executor)
        scheduler.start()
        sequencer = (SequenceBatcher(name, config) if config.HasField("sequence_batching")
                     else None)
        return LoadedModel(name, version, directory, config, metadata, runtime, scheduler,
                           stats, sequencer)

    def _policy(self, config: ModelConfig) -> BatchingPolicy:
        batching = config.dynamic_batching
        queue_size = batching.default_queue_policy.max_queue_size
        delay_us, preferred = batching.max_queue_delay_microseconds, batching.preferred_batch_size
        if config.HasField("sequence_batching"):
            strategy = config.sequence_batching
            chosen = strategy.oldest if strategy.HasField("oldest") else strategy.direct
            delay_us = chosen.max_queue_delay_microseconds
            preferred = strategy.oldest.preferred_batch_size
        return BatchingPolicy(
            max_batch_size=config.max_batch_size,
            max_queue_delay_s=delay_us / 1e6,
            preferred_sizes=tuple(preferred),
            max_queue_size=queue_size or self.settings.max_queue_size,
            instances=sum(g.count or 1 for g in config.instance_group) or 1,
        )

    def _runtime_options(self, config: ModelConfig, metadata: ModelMetadata) -> RuntimeOptions:
        runtime = metadata.runtime
        accelerators = config.optimization.execution_accelerators
        cuda_options: dict[str, str] = {}
        for accelerator in accelerators.gpu_execution_accelerator:
            cuda_options.update(accelerator.parameters)
        shared_pool = self.settings.thread_pool == "shared"
        if shared_pool and (runtime.intra_op_thread_count is not None
                            or runtime.inter_op_thread_count):
            # ONNX Runtime refuses sessions with pools of their own once the shared one exists
            raise ModelLoadError(
                f"model '{config.name}' sets intra_op_thread_count or inter_op_thread_count, "
                "but with --thread-pool shared every model runs on the one shared pool "
                "(sized by --intra-op-threads); remove the parameters or use --thread-pool "
                "per-model")
        return RuntimeOptions(
            device=self.settings.device,
            intra_op_threads=(self.settings.intra_op_threads
                              if runtime.intra_op_thread_count is None
                              else runtime.intra_op_thread_count),
            inter_op_threads=runtime.inter_op_thread_count,
            cuda_options=cuda_options,
            graph_optimization_level=config.optimization.graph.level,
            allow_cpu_fallback=runtime.allow_cpu_fallback,
            intra_op_spinning=self.settings.intra_op_spinning,
            shared_thread_pool=shared_pool,
        )


def check_label_files(name: str, directory: Path, config: ModelConfig) -> None:
    """Every `label_filename` an output names is a file beside the config."""
    for output in config.output:
        if output.label_filename and not (directory / output.label_filename).is_file():
            raise ModelLoadError(
                f"model '{name}': output '{output.name}' names label_filename "
                f"'{output.label_filename}', which is not in the model folder; add the file or "
                "remove the field")


def read_metadata(name: str, config: ModelConfig) -> ModelMetadata:
    """The config's parameters parsed once; a bad one fails the load, naming its key."""
    try:
        return parse_metadata(parameters_of(config))
    except MetadataError as exc:
        raise ModelLoadError(f"model '{name}' has a bad config.pbtxt: {exc}; see "
                             "docs/model-folders.md") from exc


def run_warmup(config: ModelConfig, runtime: OnnxRuntime, directory: Path) -> None:
    """Run the config's model_warmup samples (zero, random or file data), `count` times each;
    a sample that fails fails the load, as in Triton."""
    for sample, feed, count in warmup_feeds(config, directory):
        for _ in range(count):
            try:
                runtime.infer(feed)
            except Exception as exc:
                raise ModelLoadError(f"model '{config.name}': warm-up sample '{sample}' "
                                     f"failed: {str(exc).splitlines()[0]}") from exc
