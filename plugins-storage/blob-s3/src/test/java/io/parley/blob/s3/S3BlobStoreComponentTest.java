package io.parley.blob.s3;

import io.parley.core.spi.blob.BlobStore.Info;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.lang.reflect.Proxy;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The DS component as SCR drives it: configuration to settings, the store behind the service, deactivation. */
class S3BlobStoreComponentTest {

    /** A configuration as SCR builds it from the PID's properties: given values, else the annotation's defaults. */
    static S3BlobStoreConfig config(Map<String, Object> values) {
        return (S3BlobStoreConfig) Proxy.newProxyInstance(S3BlobStoreConfig.class.getClassLoader(),
                new Class<?>[] {S3BlobStoreConfig.class}, (proxy, method, args) -> {
                    if (method.getDeclaringClass() == Object.class) {
                        return method.getName().equals("toString") ? "config" + values : null;
                    }
                    return values.getOrDefault(method.getName(), method.getDefaultValue());
                });
    }

    private static Map<String, Object> s3rverConfig(String prefix) {
        S3TestServers.Server server = S3TestServers.s3rver();
        Map<String, Object> values = new HashMap<>();
        values.put("endpoint", server.endpoint());
        values.put("bucket", S3TestServers.BUCKET);
        values.put("access_key", S3TestServers.ACCESS_KEY);
        values.put("secret_key", S3TestServers.SECRET_KEY);
        values.put("prefix", prefix);
        return values;
    }

    @Test
    void theDefaultsSuitAnS3CompatibleServerAndAwsNeedsOnlyBucketAndKeys() {
        S3Settings settings = S3BlobStoreComponent.settings(config(Map.of("bucket", "b", "access_key", "a",
                "secret_key", "s")));
        assertEquals(new S3Settings("", "us-east-1", "b", "a", "s", true, "", false, true), settings);
        assertEquals(null, settings.endpointUri(), "AWS S3");

        S3Settings custom = S3BlobStoreComponent.settings(config(Map.of("endpoint", "https://s3.example:9000",
                "region", "eu-west-3", "bucket", "b", "access_key", "a", "secret_key", "s", "path_style", false,
                "prefix", "parley/blobs", "create_bucket", true, "presign", false)));
        assertEquals(new S3Settings("https://s3.example:9000", "eu-west-3", "b", "a", "s", false, "parley/blobs/",
                true, false), custom);

        assertThrows(IllegalArgumentException.class, () -> new S3BlobStoreComponent(config(Map.of())),
                "no bucket, no keys: activation fails and nothing is registered");
    }

    @Test
    void theServiceIsTheStoreAndActivationCreatesTheBucketWhenAsked() throws Exception {
        String bucket = "component-" + UUID.randomUUID().toString().substring(0, 8);
        Map<String, Object> values = s3rverConfig("p");
        values.put("bucket", bucket);
        values.put("create_bucket", true);
        S3BlobStoreComponent component = new S3BlobStoreComponent(config(values));
        try {
            byte[] bytes = "via the service".getBytes(StandardCharsets.UTF_8);
            Info info = component.put("f/a", new ByteArrayInputStream(bytes), bytes.length, "text/plain");
            assertEquals(Optional.of(info), component.stat("f/a"));
            assertArrayEquals(bytes, component.open("f/a", 0).orElseThrow().readAllBytes());
            assertEquals(List.of(info), component.list("f/", "", 10));
            assertTrue(component.downloadUrl("f/a", Duration.ofMinutes(5)).orElseThrow().toString()
                    .contains("/" + bucket + "/p/f/a?"));
            assertTrue(component.delete("f/a"));
        } finally {
            component.deactivate();
        }

        values.put("presign", false);
        values.put("create_bucket", false);
        values.put("bucket", "missing-" + UUID.randomUUID().toString().substring(0, 8));
        S3BlobStoreComponent unusable = new S3BlobStoreComponent(config(values));
        try {
            assertEquals(Optional.empty(), unusable.downloadUrl("f/a", Duration.ofMinutes(5)));
            java.io.IOException e = assertThrows(java.io.IOException.class,
                    () -> unusable.put("x", new ByteArrayInputStream(new byte[1]), 1, "text/plain"));
            assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
        } finally {
            unusable.deactivate();
        }
    }

    @Test
    void deactivationLeavesNoThreadOfTheSdkRunning() throws Exception {
        Map<String, Object> config = s3rverConfig("threads");
        S3TestServers.s3mock();
        Set<Thread> before = new HashSet<>(Thread.getAllStackTraces().keySet());
        S3BlobStoreComponent component = new S3BlobStoreComponent(config(config));
        byte[] bytes = new byte[100_000];
        component.put("t/1", new ByteArrayInputStream(bytes), bytes.length, "application/octet-stream");
        component.open("t/1", 10).orElseThrow().readAllBytes();
        component.list("", "", 10);
        component.downloadUrl("t/1", Duration.ofMinutes(1));
        component.delete("t/1");
        Set<String> started = newThreads(before);
        component.deactivate();

        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        Set<String> left = newThreads(before);
        while (!left.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(50);
            left = newThreads(before);
        }
        assertEquals(Set.of(), left, "threads started while the component was active: " + started);
        assertThrows(IllegalStateException.class, () -> component.stat("t/1"), "the clients are closed");
    }

    /** Live threads that were not in {@code before}, but the JDK's shared HTTP keep-alive timer. */
    private static Set<String> newThreads(Set<Thread> before) {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> !before.contains(t) && t.isAlive())
                .map(Thread::getName)
                .filter(name -> !name.equals("Keep-Alive-Timer") && !name.equals("Keep-Alive-SocketCleaner"))
                .collect(Collectors.toSet());
    }

    @Test
    void theConfigurationKeysAreThoseOfTheShippedExample() throws Exception {
        String example = java.nio.file.Files.readString(java.nio.file.Path.of("src/main/conf/parley.blob.s3.cfg.example"));
        for (String key : List.of("endpoint", "region", "bucket", "access.key", "secret.key", "path.style", "prefix",
                "create.bucket", "presign")) {
            assertTrue(example.lines().anyMatch(line -> line.startsWith(key + " =") || line.startsWith("#" + key + " =")),
                    key + " is documented in the example");
        }
        assertFalse(example.lines().anyMatch(line -> line.startsWith("secret.key = ") && line.length() > 13),
                "no secret is shipped");
    }
}
