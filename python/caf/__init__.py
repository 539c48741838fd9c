"""caf from Python: runs and IoVs, local conditions databases and collector outputs, read and written
through libcaf itself (the extension module caf._caf), so that Python sees exactly what the C library
and the caf command see. Histograms, profiles and ntuples come out as numpy arrays.

    import caf
    db = caf.Database("campaign/output/database")
    db.read_json("ExampleGain", (0, 3))
    out = caf.CollectorOutput("CollectorOutput_ExampleHitCollector.sqlite")
    h = out.merge("hits")          # merged over every run of the file
    h.contents, h.errors, h.edges  # numpy arrays

Every failure of libcaf is a caf.Error (one subclass per kind) whose str() is caf's one-line message.
See docs/python.md.
"""
from caf._caf import (  # noqa: F401  (the public names of the package)
    Error,
    ExistsError,
    ExternalError,
    FileSystemError,
    FormatError,
    InvalidError,
    NotFoundError,
    OutOfMemoryError,
    PluginError,
    StateError,
    TimeLimitError,
    version,
)
from caf.iov import ExpRun, IoV, gaps, span_of_runs  # noqa: F401
from caf.localdb import Database, Entry, Payload, check_database  # noqa: F401
from caf.collected import (  # noqa: F401
    CollectorOutput,
    Counter,
    Hist1D,
    Hist2D,
    Profile,
    UserObject,
    merge_files,
)
from caf.event_files import EventFileMetadata, FileIndex, IndexedFile, RunFiles, event_file_metadata  # noqa: F401
from caf.algorithm import AlgorithmContext, Result  # noqa: F401

__version__ = version
__all__ = [
    "Error", "InvalidError", "FormatError", "FileSystemError", "OutOfMemoryError", "NotFoundError",
    "ExistsError", "StateError", "PluginError", "ExternalError", "TimeLimitError",
    "ExpRun", "IoV", "gaps", "span_of_runs",
    "Database", "Entry", "Payload", "check_database",
    "CollectorOutput", "Counter", "Hist1D", "Hist2D", "Profile", "UserObject", "merge_files",
    "EventFileMetadata", "FileIndex", "IndexedFile", "RunFiles", "event_file_metadata",
    "AlgorithmContext", "Result",
]
