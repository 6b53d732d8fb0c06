package io.parley.itest;

import io.parley.client.ParleyClient;
import io.parley.core.proto.Message;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static io.parley.itest.HttpApiIT.list;
import static io.parley.itest.HttpApiIT.map;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The plugin author's path, end to end. The location example ({@code plugins-messagetype/location}, not a module of
 * the reactor) is built by Maven in a separate process as an outside author builds it: against the parley-core jar
 * of this build, published into a private repository under {@code target/author-build/}. Its jar is dropped into
 * {@code deploy/} of the assembled server: {@code GET /v1/types} lists the type with its fields, a valid location sent
 * as JSON is stored and delivered, invalid ones are refused with the rules' reason, and removing the jar removes the
 * type. A bundle built for the next major version of {@code io.parley.core.spi.message} stays unstarted, and the logs
 * say which package and versions it needs and which this server has.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LocationPluginIT {
    static final Path EXAMPLE = Path.of("../../plugins-messagetype/location");
    static final Path AUTHOR_BUILD = Path.of("target/author-build").toAbsolutePath();
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @TempDir
    static Path work;
    static ServerProcess server;
    static Path locationJar;
    static final List<ParleyClient> clients = new ArrayList<>();

    @BeforeAll
    static void buildTheExampleAndStartTheServer() throws Exception {
        long t0 = System.nanoTime();
        locationJar = awaitAuthorBuild(startAuthorBuild());
        long built = ServerProcess.since(t0).toMillis();
        server = new ServerProcess(work);
        server.start();
        awaitHealthy();
        System.out.println("[location] example built in " + built + " ms, server ready "
                + (ServerProcess.since(t0).toMillis() - built) + " ms later");
    }

    @AfterAll
    static void stop() throws Exception {
        clients.forEach(ParleyClient::close);
        if (server != null) {
            server.close();
        }
    }

    @Test
    @Order(1)
    void theBundleImportsOnlyTheMessageSpiAndTheProtocolAtTheirCurrentMajor() throws IOException {
        try (JarFile jar = new JarFile(locationJar.toFile())) {
            String imports = jar.getManifest().getMainAttributes().getValue("Import-Package");
            assertTrue(imports.matches(".*io\\.parley\\.core\\.spi\\.message;version=\"\\[1\\.\\d+,2\\)\".*"), imports);
            assertTrue(imports.matches(".*io\\.parley\\.core\\.proto;version=\"\\[1\\.\\d+,2\\)\".*"), imports);
            assertTrue(imports.matches(".*com\\.google\\.protobuf;version=\"\\[4\\.\\d+,5\\)\".*"), imports);
            assertEquals(List.of(), Stream.of(imports.split(",(?=[a-z])"))
                    .filter(i -> i.startsWith("io.parley.") && !i.startsWith("io.parley.core.spi.message;")
                            && !i.startsWith("io.parley.core.proto;")).toList(), "no other Parley package");
        }
    }

    @Test
    @Order(2)
    void droppedIntoDeployTheTypeIsListedWithItsFields() throws Exception {
        assertNull(typeNamed("location"), "not deployed yet");
        server.deploy(locationJar, "parley-type-location.jar");
        Map<String, Object> location = null;
        long t0 = System.nanoTime();
        while (location == null) {
            assertTrue(ServerProcess.since(t0).toSeconds() < 20, "location not listed 20 s after the jar was dropped");
            Thread.sleep(100);
            location = typeNamed("location");
        }
        System.out.println("[location] listed " + ServerProcess.since(t0).toMillis() + " ms after the jar was dropped");
        assertEquals("parley.location.v1.Location", location.get("body"));
        assertEquals("type.googleapis.com/parley.location.v1.Location", location.get("type_url"));
        List<String> fields = list(location.get("fields")).stream()
                .map(f -> map(f).get("name") + ":" + map(f).get("type")).toList();
        assertEquals(List.of("latitude:double", "longitude:double", "label:string"), fields);
    }

    @Test
    @Order(3)
    void aValidLocationIsStoredAndDeliveredAndInvalidOnesAreRefusedWithTheReason() throws Exception {
        LinkedBlockingQueue<Message> bobInbox = new LinkedBlockingQueue<>();
        ParleyClient bob = server.clientBuilder("bob", "phone", server.port).messageListener(bobInbox::add).build();
        clients.add(bob);
        bob.connect().get(15, TimeUnit.SECONDS);

        HttpResponse<String> sent = post("{\"from\":\"alice\",\"to\":\"bob\",\"type\":\"location\",\"client_msg_id\":"
                + "\"loc-1\",\"body\":{\"latitude\":48.8584,\"longitude\":2.2945,\"label\":\"Eiffel Tower\"}}");
        assertEquals(200, sent.statusCode(), sent.body());
        long seq = (Long) json(sent).get("seq");
        Message delivered = bobInbox.poll(15, TimeUnit.SECONDS);
        assertNotNull(delivered, "bob's device got the location");
        assertEquals("location", delivered.getType());
        assertEquals(seq, delivered.getSeq());
        assertEquals("type.googleapis.com/parley.location.v1.Location", delivered.getBody().getTypeUrl());

        HttpResponse<String> history = get("/v1/conversations/d:alice:bob/messages?user=bob");
        assertEquals(200, history.statusCode(), history.body());
        List<Object> messages = list(json(history).get("messages"));
        assertEquals(1, messages.size());
        assertEquals(Map.of("latitude", 48.8584, "longitude", 2.2945, "label", "Eiffel Tower"),
                map(map(messages.get(0)).get("content")));

        assertRefused("{\"latitude\":91,\"longitude\":2.2945}", "latitude must be between -90 and 90, not 91");
        assertRefused("{\"latitude\":\"NaN\",\"longitude\":0}", "latitude must be a finite number, not NaN");
        assertRefused("{\"latitude\":0,\"longitude\":-180.5}", "longitude must be between -180 and 180, not -180.5");
        assertRefused("{\"latitude\":1,\"longitude\":2,\"label\":\"two\\nlines\"}",
                "label must not contain control characters (line breaks, tabs…)");
        assertRefused("{\"latitude\":1,\"longitude\":2,\"label\":\"" + "x".repeat(201) + "\"}",
                "label has 201 characters; at most 200 are allowed");
        assertEquals(1, list(json(get("/v1/conversations/d:alice:bob/messages?user=bob")).get("messages")).size(),
                "nothing refused was stored");
        assertNull(bobInbox.poll(300, TimeUnit.MILLISECONDS), "nothing refused was delivered");
    }

    @Test
    @Order(4)
    void aBundleBuiltForTheNextMessageSpiMajorIsNotStartedAndTheLogsSayWhy() throws Exception {
        Path future = work.resolve("parley-type-future.jar");
        Files.write(future, TypeBundleLifecycleIT.bundleImporting("org.example.parley.future",
                "io.parley.core.spi.message;version=\"[2.0,3)\""));
        server.deploy(future, "parley-type-future.jar");
        String resolver = "missing requirement [org.example.parley.future ";
        String filter = "(&(osgi.wiring.package=io.parley.core.spi.message)(version>=2.0.0)(!(version>=3.0.0)))";
        String launcher = "deploy/parley-type-future.jar (org.example.parley.future 2.0.0) is not started: it imports "
                + "io.parley.core.spi.message [2.0.0,3.0.0) and this server exports io.parley.core.spi.message 1.";
        long t0 = System.nanoTime();
        while (!server.log().contains(filter) || !console().contains(launcher)) {
            if (ServerProcess.since(t0).toSeconds() > 20) {
                fail("no explanation within 20 s; parley.log:\n" + tail(server.log())
                        + "\nconsole:\n" + tail(console()));
            }
            Thread.sleep(100);
        }
        String log = server.log();
        assertTrue(log.lines().anyMatch(l -> l.contains("Error while starting bundle: ")
                && l.endsWith("/deploy/parley-type-future.jar")), "FileInstall names the file");
        assertTrue(log.contains(resolver), "the resolver names the bundle");
        String line = console().lines().filter(l -> l.contains(launcher)).findFirst().orElseThrow();
        System.out.println("[location] " + line);
        assertEquals(200, post("{\"from\":\"alice\",\"to\":\"bob\",\"type\":\"location\",\"body\":"
                + "{\"latitude\":1,\"longitude\":2}}").statusCode(), "the deployed location type is unaffected");
        server.undeploy("parley-type-future.jar");
    }

    @Test
    @Order(5)
    void removingTheJarRemovesTheType() throws Exception {
        server.undeploy("parley-type-location.jar");
        long t0 = System.nanoTime();
        HttpResponse<String> r;
        do {
            assertTrue(ServerProcess.since(t0).toSeconds() < 20, "location still accepted 20 s after removal");
            Thread.sleep(100);
            r = post("{\"from\":\"alice\",\"to\":\"bob\",\"type\":\"location\",\"body\":"
                    + "{\"latitude\":1,\"longitude\":2}}");
        } while (r.statusCode() == 200);
        assertEquals(422, r.statusCode(), r.body());
        assertEquals("UNSUPPORTED_TYPE", map(json(r).get("error")).get("code"));
        assertNull(typeNamed("location"));
    }

    // ------------------------------------------------------------------------------------------------ the author build

    /**
     * Starts {@code mvn clean package} of a copy of the example under target/author-build/location, with a settings
     * file that makes the build see:
     * <ul>
     * <li>a private local repository, target/author-build/repository, into which this build's parley-core jar is
     * published first (with a pom without dependencies: the server provides them), so nothing is installed into the
     * developer's own local repository and a clean machine needs no {@code mvn install};</li>
     * <li>the developer's local repository as a read-only file repository, then Maven Central: every plugin and
     * library the reactor build already fetched is copied from disk, so the build works offline.</li>
     * </ul>
     * {@code -Dparley.version} makes it compile against the version just built.
     */
    static Process startAuthorBuild() throws IOException {
        Path project = AUTHOR_BUILD.resolve("location");
        Path repository = AUTHOR_BUILD.resolve("repository");
        deleteTree(project);
        copyTree(EXAMPLE.resolve("src"), project.resolve("src"));
        Files.copy(EXAMPLE.resolve("pom.xml"), project.resolve("pom.xml"));

        Path bundles = Path.of(System.getProperty("parley.bundles.dir", "target/bundles"));
        Path coreJar;
        try (Stream<Path> s = Files.list(bundles)) {
            coreJar = s.filter(p -> p.getFileName().toString().matches("parley-core-[^-]+(-SNAPSHOT)?\\.jar"))
                    .findFirst().orElseThrow(() -> new IllegalStateException("no parley-core jar in " + bundles));
        }
        String version = coreJar.getFileName().toString().replaceAll("^parley-core-(.*)\\.jar$", "$1");
        Path published = repository.resolve("io/parley/parley-core/" + version);
        Files.createDirectories(published);
        Files.copy(coreJar, published.resolve("parley-core-" + version + ".jar"), StandardCopyOption.REPLACE_EXISTING);
        Files.writeString(published.resolve("parley-core-" + version + ".pom"), """
                <project xmlns="http://maven.apache.org/POM/4.0.0">
                  <modelVersion>4.0.0</modelVersion>
                  <groupId>io.parley</groupId>
                  <artifactId>parley-core</artifactId>
                  <version>%s</version>
                </project>
                """.formatted(version));

        Path developerRepository = Path.of(System.getProperty("parley.maven.repo.local",
                System.getProperty("user.home") + "/.m2/repository")).toAbsolutePath();
        String cache = """
                  <id>developer-local-repository</id>
                  <url>%s</url>
                  <releases><enabled>true</enabled><checksumPolicy>ignore</checksumPolicy></releases>
                  <snapshots><enabled>false</enabled></snapshots>
                """.formatted(developerRepository.toUri());
        Path settings = AUTHOR_BUILD.resolve("settings.xml");
        Files.writeString(settings, """
                <settings xmlns="http://maven.apache.org/SETTINGS/1.0.0">
                  <localRepository>%s</localRepository>
                  <profiles>
                    <profile>
                      <id>author-build</id>
                      <repositories><repository>%s</repository></repositories>
                      <pluginRepositories><pluginRepository>%s</pluginRepository></pluginRepositories>
                    </profile>
                  </profiles>
                  <activeProfiles><activeProfile>author-build</activeProfile></activeProfiles>
                </settings>
                """.formatted(repository, cache, cache));

        String mavenHome = System.getProperty("parley.maven.home", "");
        String mvn = mavenHome.isEmpty() ? "mvn" : Path.of(mavenHome, "bin", "mvn").toString();
        return new ProcessBuilder(mvn, "-B", "-ntp", "-q", "-s", settings.toString(), "-f",
                project.resolve("pom.xml").toString(), "-Dparley.version=" + version, "clean", "package")
                .directory(project.toFile())
                .redirectErrorStream(true)
                .redirectOutput(AUTHOR_BUILD.resolve("build.log").toFile())
                .start();
    }

    /** Waits for the author build (at most 3 minutes; then it is killed) and returns the bundle it made. */
    static Path awaitAuthorBuild(Process build) throws Exception {
        Path log = AUTHOR_BUILD.resolve("build.log");
        try {
            if (!build.waitFor(3, TimeUnit.MINUTES)) {
                fail("the author build did not finish within 3 minutes:\n" + tail(Files.readString(log)));
            }
        } finally {
            if (build.isAlive()) {
                build.descendants().forEach(ProcessHandle::destroyForcibly);
                build.destroyForcibly();
            }
        }
        assertEquals(0, build.exitValue(), "the author build failed:\n" + tail(Files.readString(log)));
        try (Stream<Path> s = Files.list(AUTHOR_BUILD.resolve("location/target"))) {
            return s.filter(p -> p.getFileName().toString().matches("parley-type-location-.*\\.jar")).findFirst()
                    .orElseThrow(() -> new AssertionError("the author build made no parley-type-location jar"));
        }
    }

    // ------------------------------------------------------------------------------------------------ helpers

    private static void assertRefused(String body, String reason) throws Exception {
        HttpResponse<String> r = post("{\"from\":\"alice\",\"to\":\"bob\",\"type\":\"location\",\"body\":"
                + body + "}");
        assertEquals(400, r.statusCode(), r.body());
        Map<String, Object> error = map(json(r).get("error"));
        assertEquals("INVALID_BODY", error.get("code"), r.body());
        assertEquals(reason, error.get("message"));
    }

    private static Map<String, Object> typeNamed(String type) throws Exception {
        HttpResponse<String> r = get("/v1/types");
        assertEquals(200, r.statusCode(), r.body());
        return HttpApiIT.typeNamed(json(r), type);
    }

    private static void awaitHealthy() throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        String last = "no answer";
        while (System.nanoTime() < deadline) {
            try {
                HttpResponse<String> health = send(HttpRequest.newBuilder(uri("/health")));
                if (health.statusCode() == 200) {
                    return;
                }
                last = health.statusCode() + " " + health.body();
            } catch (IOException notYet) {
                last = notYet.toString();
            }
            Thread.sleep(50);
        }
        throw new IllegalStateException("HTTP API not healthy within 30 s: " + last);
    }

    private static HttpResponse<String> get(String path) throws Exception {
        return send(HttpRequest.newBuilder(uri(path)).header("Authorization", "Bearer " + ServerProcess.ADMIN_TOKEN));
    }

    private static HttpResponse<String> post(String json) throws Exception {
        return send(HttpRequest.newBuilder(uri("/v1/messages"))
                .header("Authorization", "Bearer " + ServerProcess.ADMIN_TOKEN)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(json, StandardCharsets.UTF_8)));
    }

    private static HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
        return HTTP.send(request.timeout(Duration.ofSeconds(20)).build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    private static URI uri(String path) {
        return URI.create("http://127.0.0.1:" + server.httpPort + path);
    }

    private static Map<String, Object> json(HttpResponse<String> r) {
        return map(HttpApiIT.Json.parse(r.body()));
    }

    private static String console() throws IOException {
        Path console = server.home.resolve("logs/test-console.log");
        return Files.exists(console) ? Files.readString(console) : "";
    }

    private static String tail(String text) {
        List<String> lines = text.lines().collect(Collectors.toList());
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
    }

    private static void copyTree(Path from, Path to) throws IOException {
        Files.walkFileTree(from, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) throws IOException {
                Files.createDirectories(to.resolve(from.relativize(dir).toString()));
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.copy(file, to.resolve(from.relativize(file).toString()));
                return FileVisitResult.CONTINUE;
            }
        });
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted((a, b) -> b.getNameCount() - a.getNameCount()).toList()) {
                Files.delete(p);
            }
        }
    }
}
