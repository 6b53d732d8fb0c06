package io.parley.store.rocksdb;

import io.parley.core.spi.store.MessageStore;

import java.nio.file.Path;

/**
 * The contract again with {@code watermark.flush.millis = 0} (watermarks written with every batch) and batches of at
 * most 3 operations, so that heads, dedupe and lists cross many batch boundaries.
 */
class RocksStoreEveryBatchContractTest extends RocksStoreContractTest {

    @Override
    protected MessageStore openStore(Path dir) {
        return RocksMessageStore.open(RocksStoreOptions.defaults(dir).withWatermarkFlushMillis(0).withMaxBatch(3));
    }
}
