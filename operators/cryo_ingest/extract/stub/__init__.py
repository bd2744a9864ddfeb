from cryo_ingest.extract.stub.chain import *  # noqa
from cryo_ingest.extract.stub.chain import DATASETS, STUB_VERSION, chunk_table, parent_hashes, write_chunks  # noqa
