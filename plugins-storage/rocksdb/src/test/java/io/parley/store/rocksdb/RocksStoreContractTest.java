package io.parley.store.rocksdb;

import io.parley.core.spi.store.MessageStore;
import io.parley.core.spi.testing.PersistentMessageStoreContract;

import java.nio.file.Path;

class RocksStoreContractTest extends PersistentMessageStoreContract {

    @Override
    protected MessageStore openStore(Path dir) {
        return RocksMessageStore.open(RocksStoreOptions.defaults(dir));
    }

    @Override
    protected void awaitWatermarks(MessageStore store) throws Exception {
        await(((RocksMessageStore) store).flush());
    }
}
