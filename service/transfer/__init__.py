"""Moving a catalogue between instances: ``export_catalog`` writes tracks, tag scores,
vectors and fingerprints to a self-describing Parquet file (:mod:`.fileformat`);
``import_catalog`` stores such a file in another instance serving the same model, without
decoding or embedding anything (:mod:`.importing` says in what order, and why)."""

from service.transfer.export import ExportReport, export_catalog
from service.transfer.fileformat import FORMAT, FORMAT_VERSION, Header, TransferError
from service.transfer.importing import ImportReport, import_catalog

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "ExportReport",
    "Header",
    "ImportReport",
    "TransferError",
    "export_catalog",
    "import_catalog",
]
