"""CSV ingest: encoding pre-pass, column mapping, pre-flight and chunk planning.

No Dagster and no HTTP here: the Dagster layer calls :func:`plan_file`, hands each
:class:`ChunkSpec` to a step, and the step calls :func:`read_chunk` for the bytes to send.
"""

from cleanlist_pipeline.ingest.chunker import (
    API_MAX_BYTES,
    API_MAX_ROWS,
    DEFAULT_MARGIN,
    DEFAULT_MAX_BYTES,
    read_chunk,
    split_chunk,
)
from cleanlist_pipeline.ingest.encoding import EncodingDecision
from cleanlist_pipeline.ingest.errors import (
    DropChangedError,
    EmptyFileError,
    EncodingError,
    HeaderError,
    IngestError,
    MalformedCSVError,
    MappingError,
    NotCSVError,
)
from cleanlist_pipeline.ingest.manifest import ChunkSpec, ImportPlan
from cleanlist_pipeline.ingest.mapping import (
    AMBIGUOUS_HEADERS,
    CANONICAL_FIELDS,
    SYNONYMS,
    normalise_header,
    sidecar_path,
)
from cleanlist_pipeline.ingest.plan import plan_file, write_rejects
from cleanlist_pipeline.ingest.preflight import RejectedRecord

__all__ = [
    "AMBIGUOUS_HEADERS",
    "API_MAX_BYTES",
    "API_MAX_ROWS",
    "CANONICAL_FIELDS",
    "DEFAULT_MARGIN",
    "DEFAULT_MAX_BYTES",
    "SYNONYMS",
    "ChunkSpec",
    "DropChangedError",
    "EmptyFileError",
    "EncodingDecision",
    "EncodingError",
    "HeaderError",
    "ImportPlan",
    "IngestError",
    "MalformedCSVError",
    "MappingError",
    "NotCSVError",
    "RejectedRecord",
    "normalise_header",
    "plan_file",
    "read_chunk",
    "sidecar_path",
    "split_chunk",
    "write_rejects",
]
