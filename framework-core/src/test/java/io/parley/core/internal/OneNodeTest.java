package io.parley.core.internal;

import org.junit.jupiter.api.AfterEach;

/**
 * Base of the tests that run one {@link TestNode} on a {@link TinyStore}: the test sets {@link #node}, which is closed
 * after each test.
 */
abstract class OneNodeTest {
    protected final TinyStore store = new TinyStore();
    protected TestNode node;

    @AfterEach
    void closeNode() {
        if (node != null) {
            node.close();
        }
    }
}
