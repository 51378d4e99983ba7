"""Built-in mock LLM provider (OpenAI chat completions + Anthropic messages) for tests and benchmarks.

In-process::

    mock = MockProvider("127.0.0.1", 0)
    await mock.start()          # mock.port is now the bound port
    ...
    await mock.stop()
    mock.requests[0].auth       # ("authorization", "<sha256 prefix>"), never the raw key

From synchronous tests (e.g. with the official SDKs) use ThreadedMockProvider, which runs the
same server on its own event loop in a daemon thread. As a program: `python -m gateway.mock`.
"""

from gateway.mock.formats import key_fingerprint
from gateway.mock.server import MockProvider, RecordedRequest
from gateway.mock.threaded import ThreadedMockProvider

__all__ = ["MockProvider", "RecordedRequest", "ThreadedMockProvider", "key_fingerprint"]
