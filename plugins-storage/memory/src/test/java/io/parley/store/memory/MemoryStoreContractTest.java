package io.parley.store.memory;

import io.parley.core.spi.store.MessageStore;
import io.parley.core.spi.testing.MessageStoreContract;

import java.nio.file.Path;

class MemoryStoreContractTest extends MessageStoreContract {

    @Override
    protected MessageStore openStore(Path dir) {
        return new MemoryMessageStore();
    }
}
