package io.parley.transport.support;

import io.netty.channel.ChannelInboundHandlerAdapter;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code max.connections} is derived from the process's file limit (an outside attacker's finding). */
class FileLimitTest {

    @Test
    void theCapIsAShareOfTheFileLimit() {
        assertEquals(8_000, FileLimit.cap(20_000, 20_000), "20,000 connections cannot fit a 20,000-file process");
        assertEquals(20_000, FileLimit.cap(20_000, 1_048_576));
        assertEquals(409, FileLimit.cap(20_000, 1024));
        assertEquals(16, FileLimit.cap(20_000, 20));
        assertEquals(5, FileLimit.cap(5, 1024), "a lower configured value stays");
        assertEquals(20_000, FileLimit.cap(20_000, -1), "unknown limit: as configured");
    }

    @Test
    void theProcessLimitIsReadOnLinux() {
        assertTrue(Files.isDirectory(Path.of("/proc/self")), "this test runs on Linux");
        assertTrue(FileLimit.maxOpenFiles() > 0, "MaxFileDescriptorCount");
    }

    @Test
    void theLimitsFileAgreesWithTheMBeanServer() throws Exception {
        Object viaMBean = java.lang.management.ManagementFactory.getPlatformMBeanServer().getAttribute(
                new javax.management.ObjectName("java.lang:type=OperatingSystem"), "MaxFileDescriptorCount");
        assertEquals(((Number) viaMBean).longValue(), FileLimit.fromProcLimits(Path.of("/proc/self/limits")));
    }

    @Test
    void theSoftLimitIsParsedAndUnlimitedOrMissingIsSaid(@org.junit.jupiter.api.io.TempDir Path dir) throws Exception {
        Path limits = dir.resolve("limits");
        Files.writeString(limits, """
                Limit                     Soft Limit           Hard Limit           Units
                Max processes             95912                95912                processes
                Max open files            1024                 524288               files
                Max locked memory         8388608              8388608              bytes
                """);
        assertEquals(1024, FileLimit.fromProcLimits(limits), "the soft limit, which is the one enforced");
        Files.writeString(limits, "Max open files            unlimited            unlimited            files\n");
        assertEquals(-1, FileLimit.fromProcLimits(limits));
        Files.writeString(limits, "Max processes             95912                95912                processes\n");
        assertEquals(0, FileLimit.fromProcLimits(limits));
        assertEquals(0, FileLimit.fromProcLimits(dir.resolve("missing")));
    }

    @Test
    void aStartedServerAcceptsAtMostItsShare() throws Exception {
        NettyServer server = new NettyServer("Test", "parley-fdtest", ServerSettings.builder().host("127.0.0.1")
                .port(0).ioThreads(1).epoll(EpollMode.OFF).maxConnections(Integer.MAX_VALUE).build());
        try {
            server.start(new ChannelInboundHandlerAdapter(), "test");
            assertEquals(FileLimit.cap(Integer.MAX_VALUE, FileLimit.maxOpenFiles()), server.maxConnections());
            assertTrue(server.maxConnections() < Integer.MAX_VALUE);
        } finally {
            server.stop();
        }
    }
}
