"""Task handlers and the servicer's conversions over a real in-process core (no gRPC)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest

from contract.protocol import striate_tasks_pb2 as pb
from service.core import InferenceCore
from service.errors import InvalidInput, ModelNotFound
from service.repository import ModelRepository
from service.rpc import status_of
from service.settings import Settings
from service.stats import Metrics
from service.tasks.models import resolve_model
from service.tasks.servicer import TaskServicer
from tests.e2e import media
from tests.e2e.tiny_models import build_repository


@pytest.fixture(scope="module")
def repository_dir(tmp_path_factory):
    return build_repository(tmp_path_factory.mktemp("repository"))


def with_core(repository_dir, work):
    """Load the repository into a core, run `work(core)` on an event loop, unload."""
    async def main():
        with ThreadPoolExecutor(4) as executor:
            repository = ModelRepository(Settings(model_repository=repository_dir), executor,
                                         Metrics())
            for name in repository.folder_names():
                await repository.load(name)
            try:
                return await work(InferenceCore(repository))
            finally:
                await repository.unload_all()

    return asyncio.run(main())


def test_default_and_named_models(repository_dir):
    async def work(core):
        assert resolve_model(core, "classification").name == "tiny_colours"  # marked default
        assert resolve_model(core, "speech").name == "tiny_ctc"  # first by name
        assert resolve_model(core, "classification", "tiny_colours_b").name == "tiny_colours_b"
        with pytest.raises(InvalidInput, match="serves component, not captioning"):
            resolve_model(core, "captioning", "tiny_caption_decoder")
        with pytest.raises(ModelNotFound):
            resolve_model(core, "classification", "nope")

    with_core(repository_dir, work)


def test_servicer_conversions_and_stream_errors(repository_dir):
    async def work(core):
        servicer = TaskServicer(core)
        response = await servicer.handlers.classify(
            pb.ClassifyRequest(image=media.solid("blue"), top_k=1))
        assert response.model.name == "tiny_colours" and response.model.version == "1"
        assert [c.label for c in response.classes] == ["blue"]
        listing = servicer.handlers.list_models()
        assert {t.task for t in listing.tasks} == {"classification", "detection",
                                                    "segmentation", "captioning", "vqa",
                                                    "speech"}
        async def requests():
            yield pb.TaskRequest(id="e")
            yield pb.TaskRequest(id="b", detect=pb.DetectRequest(
                image=b"\x89PNG\r\n\x1a\nbroken"))
            yield pb.TaskRequest(id="g", caption=pb.CaptionRequest(image=media.solid("green"),
                                                                    beam_width=2))

        answers = {r.id: r async for r in servicer.Stream(requests(), None)}
        empty, bad, good = answers["e"], answers["b"], answers["g"]
        assert empty.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        assert bad.WhichOneof("result") == "error" and "PNG" in bad.error.message
        assert good.caption.caption == "a green square"

    with_core(repository_dir, work)


def test_unexpected_errors_become_internal_without_details(caplog):
    code, message = status_of(ZeroDivisionError("secret detail"))
    assert code == grpc.StatusCode.INTERNAL and "secret" not in message
    assert "secret detail" in caplog.text
    assert status_of(InvalidInput("say why")) == (grpc.StatusCode.INVALID_ARGUMENT, "say why")


def test_every_task_service_rpc_is_served_not_left_unimplemented():
    from contract.protocol import striate_tasks_pb2 as pb
    from service.tasks.servicer import TaskServicer

    rpcs = [m.name for m in pb.DESCRIPTOR.services_by_name["TaskService"].methods]
    assert [name for name in rpcs if name not in TaskServicer.__dict__] == []
