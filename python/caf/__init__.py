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
# Every name is imported on first use (PEP 562): `import caf` stays cheap, which matters most in the
# process of an algorithm written in Python, started for every execution (docs/python.md).
_WHERE = {
    "caf._caf": ("Error", "InvalidError", "FormatError", "FileSystemError", "OutOfMemoryError", "NotFoundError",
                 "ExistsError", "StateError", "PluginError", "ExternalError", "TimeLimitError", "version"),
    "caf.iov": ("ExpRun", "IoV", "gaps", "span_of_runs"),
    "caf.localdb": ("Database", "Entry", "Payload", "check_database"),
    "caf.collected": ("CollectorOutput", "Counter", "Hist1D", "Hist2D", "Profile", "UserObject", "merge_files"),
    "caf.event_files": ("EventFileMetadata", "FileIndex", "IndexedFile", "RunFiles", "event_file_metadata"),
    "caf.algorithm": ("AlgorithmContext", "Result"),
    "caf.framework": ("Algorithm", "Calibration", "Collection", "CAF", "CampaignRun", "why"),
}
_MODULE_OF = {name: module for module, names in _WHERE.items() for name in names}
__all__ = [name for names in _WHERE.values() for name in names if name != "version"]


def __getattr__(name):
    if name == "__version__":
        name = "version"
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'caf' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__) | {"__version__"})
