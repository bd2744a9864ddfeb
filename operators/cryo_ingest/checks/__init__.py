"""What is checked before commit: the extracted tables against the partition, the job and the node.

`tables` needs no node and runs for every extractor; `node` compares Cryo's tables with the headers the
node gives (`extract/cryo/headers.py`) and runs in the cryo extractor. A table that fails raises
`RetryableError` naming the dataset, the blocks and what disagreed, and nothing of the task is committed.
"""
