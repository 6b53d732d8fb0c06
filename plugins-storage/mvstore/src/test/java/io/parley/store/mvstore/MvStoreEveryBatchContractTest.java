package io.parley.store.mvstore;

import io.parley.core.spi.store.MessageStore;

import java.nio.file.Path;

/** The contract again with {@code watermark.flush.millis = 0}: watermarks written with every batch. */
class MvStoreEveryBatchContractTest extends MvStoreContractTest {

    @Override
    protected MessageStore openStore(Path dir) {
        return MvMessageStore.open(MvStoreOptions.defaults(dir).withWatermarkFlushMillis(0));
    }
}
