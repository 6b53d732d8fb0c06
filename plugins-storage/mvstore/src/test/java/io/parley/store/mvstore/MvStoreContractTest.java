package io.parley.store.mvstore;

import io.parley.core.spi.store.MessageStore;
import io.parley.core.spi.testing.PersistentMessageStoreContract;

import java.nio.file.Path;

class MvStoreContractTest extends PersistentMessageStoreContract {

    @Override
    protected MessageStore openStore(Path dir) {
        return MvMessageStore.open(MvStoreOptions.defaults(dir));
    }

    @Override
    protected void awaitWatermarks(MessageStore store) throws Exception {
        await(((MvMessageStore) store).flush());
    }
}
