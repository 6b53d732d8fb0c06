package io.parley.store.mvstore;

import org.h2.mvstore.DataUtils;
import org.h2.mvstore.WriteBuffer;
import org.h2.mvstore.type.BasicDataType;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * MVStore key type for {@link Keys}: byte arrays in unsigned lexicographic order, stored as a var-int length and
 * the bytes. Cheaper to compare and to serialize than string keys, which dominated the writer's time.
 */
final class BytesType extends BasicDataType<byte[]> {
    static final BytesType INSTANCE = new BytesType();

    private BytesType() {
    }

    @Override
    public int compare(byte[] a, byte[] b) {
        return Arrays.compareUnsigned(a, b);
    }

    @Override
    public int getMemory(byte[] key) {
        return 24 + key.length;
    }

    @Override
    public void write(WriteBuffer buffer, byte[] key) {
        buffer.putVarInt(key.length).put(key);
    }

    @Override
    public byte[] read(ByteBuffer buffer) {
        byte[] key = new byte[DataUtils.readVarInt(buffer)];
        buffer.get(key);
        return key;
    }

    @Override
    public byte[][] createStorage(int size) {
        return new byte[size][];
    }
}
