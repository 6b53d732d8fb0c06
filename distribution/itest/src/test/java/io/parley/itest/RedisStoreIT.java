package io.parley.itest;

import io.parley.core.testing.RedisServer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Redis store from extras/ in the assembled server, on Redis this test starts (its own ports and directories, AOF
 * always): a standalone redis-server, and a Redis Cluster of three masters without replicas with the store's
 * {@code cluster = true}. On each it resolves in Felix, stores and acknowledges, de-duplicates, and keeps the seqs
 * across a server restart. Fails (does not skip) when redis-server or redis-cli is not installed.
 */
class RedisStoreIT {

    private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @ParameterizedTest(name = "redis cluster {0}")
    @ValueSource(booleans = {false, true})
    void theAssembledServerRunsOnRedis(boolean cluster, @TempDir Path work) throws Exception {
        List<RedisServer> redis = cluster ? RedisServer.startCluster(work.resolve("redis"), RedisServer.AOF_ALWAYS)
                : List.of(RedisServer.start(work.resolve("redis"), RedisServer.AOF_ALWAYS));
        try (ServerProcess server = new ServerProcess(work)) {
            Files.copy(server.home.resolve("extras/parley-store-redis.jar"),
                    server.home.resolve("deploy/parley-store-redis.jar"), StandardCopyOption.REPLACE_EXISTING);
            Path cfg = server.home.resolve("conf/parley.store.redis.cfg");
            ServerProcess.setKey(cfg, "uri", RedisServer.seeds(redis));
            ServerProcess.setKey(cfg, "cluster", Boolean.toString(cluster));
            ServerProcess.setKey(cfg, "key.prefix", "it:");
            server.useStore("redis").start();

            assertTrue(send(server, "alice", "bob", "r1").contains("\"seq\":1,"));
            String again = send(server, "alice", "bob", "r1");
            assertTrue(again.contains("\"seq\":1,") && again.contains("\"duplicate\":true"), again);
            assertTrue(send(server, "bob", "alice", "r2").contains("\"seq\":2,"));
            assertTrue(Files.readString(server.home.resolve("logs/parley.log")).contains("Using message store 'redis'"));

            server.stop();
            server.start();
            assertTrue(send(server, "alice", "bob", "r3").contains("\"seq\":3,"), "seqs continue after a restart");
            String history = get(server, "/v1/conversations/d:alice:bob/messages?user=bob&limit=50");
            for (String cid : List.of("r1", "r2", "r3")) {
                assertTrue(history.contains("\"client_msg_id\":\"" + cid + "\""), history);
            }
            if (cluster) {
                long keys = 0;
                for (RedisServer node : redis) {
                    keys += Long.parseLong(node.command("DBSIZE"));
                }
                assertTrue(keys > 0, "the store's keys are in the Redis Cluster");
            }
        } finally {
            for (RedisServer node : redis) {
                node.kill();
            }
        }
    }

    private static String send(ServerProcess server, String from, String to, String cid) throws Exception {
        HttpResponse<String> r = HTTP.send(request(server, "/v1/messages").POST(HttpRequest.BodyPublishers.ofString(
                "{\"from\":\"" + from + "\",\"to\":\"" + to + "\",\"text\":\"hi " + cid + "\",\"client_msg_id\":\""
                        + cid + "\"}")).header("Content-Type", "application/json").build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return r.body();
    }

    private static String get(ServerProcess server, String path) throws IOException, InterruptedException {
        HttpResponse<String> r = HTTP.send(request(server, path).GET().build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode(), r.body());
        return r.body();
    }

    private static HttpRequest.Builder request(ServerProcess server, String path) {
        return HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpPort + path))
                .timeout(Duration.ofSeconds(30)).header("Authorization", "Bearer " + ServerProcess.ADMIN_TOKEN);
    }
}
