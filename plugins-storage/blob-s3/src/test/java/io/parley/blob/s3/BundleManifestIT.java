package io.parley.blob.s3;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.module.ModuleDescriptor;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The packaged bundle (system property {@code bundle.jar}) as Felix will see it: the AWS SDK is inside and private,
 * and every mandatory import is a package the distribution provides — the JDK's (exported by Felix's system bundle
 * on Java 17), {@code org.slf4j} (pax-logging-api) and the core's blob SPI.
 */
class BundleManifestIT {

    /** Non-JDK packages the distribution's bundles export, that this bundle may import. */
    private static final Set<String> DISTRIBUTION = Set.of("org.slf4j", "org.slf4j.event", "org.slf4j.spi",
            "org.slf4j.helpers", "io.parley.core.spi.blob");

    private static Path jar;
    private static Attributes manifest;

    @BeforeAll
    static void readManifest() throws IOException {
        jar = Path.of(System.getProperty("bundle.jar", "target/parley-blob-s3-0.1.0-SNAPSHOT.jar"));
        assertTrue(Files.isRegularFile(jar), jar + " was not built");
        try (JarFile file = new JarFile(jar.toFile())) {
            manifest = file.getManifest().getMainAttributes();
        }
    }

    /** The JDK packages visible to Felix: every unqualified export of the boot layer's modules. */
    private static Set<String> jdkPackages() {
        return ModuleLayer.boot().modules().stream()
                .flatMap(m -> m.getDescriptor().exports().stream())
                .filter(e -> !e.isQualified())
                .map(ModuleDescriptor.Exports::source)
                .collect(Collectors.toSet());
    }

    /** An OSGi header's clauses: name → attributes and directives (as written), split on commas outside quotes. */
    static Map<String, String> clauses(String header) {
        Map<String, String> out = new LinkedHashMap<>();
        if (header == null) {
            return out;
        }
        List<String> parts = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        boolean quoted = false;
        for (char c : header.toCharArray()) {
            if (c == '"') {
                quoted = !quoted;
            }
            if (c == ',' && !quoted) {
                parts.add(current.toString());
                current.setLength(0);
            } else {
                current.append(c);
            }
        }
        parts.add(current.toString());
        for (String part : parts) {
            String[] pieces = part.trim().split(";", 2);
            out.put(pieces[0].trim(), pieces.length > 1 ? pieces[1] : "");
        }
        return out;
    }

    @Test
    void theBundleIsNamedAndExportsNothing() {
        assertEquals("io.parley.blob.s3", manifest.getValue("Bundle-SymbolicName"));
        assertEquals("2", manifest.getValue("Bundle-ManifestVersion"));
        assertNull(manifest.getValue("Export-Package"), "the SDK stays private");
        assertNull(manifest.getValue("Bundle-ClassPath"), "the SDK is unpacked into the bundle, not nested");
        assertNull(manifest.getValue("DynamicImport-Package"));
    }

    @Test
    void everyMandatoryImportIsProvidedByTheJdkOrTheDistribution() {
        Set<String> jdk = jdkPackages();
        Map<String, String> imports = clauses(manifest.getValue("Import-Package"));
        Set<String> mandatory = new TreeSet<>();
        Set<String> unprovided = new TreeSet<>();
        for (Map.Entry<String, String> e : imports.entrySet()) {
            String pkg = e.getKey();
            if (e.getValue().contains("resolution:=optional")) {
                continue;
            }
            mandatory.add(pkg);
            if (!jdk.contains(pkg) && !DISTRIBUTION.contains(pkg)) {
                unprovided.add(pkg);
            }
            assertFalse(pkg.startsWith("software.amazon."), "mandatory import of the SDK: " + pkg);
            assertFalse(pkg.startsWith("org.reactivestreams"), "mandatory import of reactive-streams: " + pkg);
        }
        System.out.println("[BundleManifestIT] mandatory imports: " + mandatory);
        assertEquals(Set.of(), unprovided, "mandatory imports nobody in the distribution exports");
        assertTrue(imports.get("io.parley.core.spi.blob").contains("version=\"[1.1,2)\""),
                "the blob SPI 1.1 (list) is imported as [1.1,2): " + imports.get("io.parley.core.spi.blob"));
        assertTrue(imports.get("org.slf4j").contains("version=\"[1.7,3)\""), imports.get("org.slf4j"));
    }

    @Test
    void theSdkIsInsideWithItsServiceFilesAndWithoutOtherHttpClients() throws IOException {
        long size = Files.size(jar);
        System.out.println("[BundleManifestIT] " + jar.getFileName() + ": " + size + " bytes");
        assertTrue(size < 12L * 1024 * 1024, "bundle size " + size);
        try (JarFile file = new JarFile(jar.toFile())) {
            for (String entry : List.of(
                    "io/parley/blob/s3/S3BlobStore.class",
                    "software/amazon/awssdk/services/s3/S3Client.class",
                    "software/amazon/awssdk/services/s3/presigner/S3Presigner.class",
                    "software/amazon/awssdk/http/urlconnection/UrlConnectionHttpClient.class",
                    "software/amazon/awssdk/core/sync/RequestBody.class",
                    "org/reactivestreams/Publisher.class",
                    "META-INF/services/software.amazon.awssdk.http.SdkHttpService",
                    "META-INF/LICENSE.txt",
                    "META-INF/NOTICE.txt")) {
                assertNotNull(file.getJarEntry(entry), entry);
            }
            JarEntry services = file.getJarEntry("META-INF/services/software.amazon.awssdk.http.SdkHttpService");
            String service = new String(file.getInputStream(services).readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(service.contains("software.amazon.awssdk.http.urlconnection.UrlConnectionSdkHttpService"),
                    service);
            List<String> foreign = file.stream().map(JarEntry::getName)
                    .filter(n -> n.startsWith("software/amazon/awssdk/http/nio/netty/")
                            || n.startsWith("software/amazon/awssdk/http/apache")
                            || n.startsWith("io/netty/") || n.startsWith("org/apache/http/")
                            || n.startsWith("org/slf4j/") || n.startsWith("io/parley/core/"))
                    .limit(5).toList();
            assertEquals(List.of(), foreign, "other HTTP clients, or packages that must come from elsewhere");
        }
    }

    @Test
    void theComponentNeedsItsConfigurationAndRegistersTheS3Store() throws IOException {
        String header = manifest.getValue("Service-Component");
        assertEquals("OSGI-INF/io.parley.blob.s3.S3BlobStoreComponent.xml", header);
        try (JarFile file = new JarFile(jar.toFile())) {
            String xml = new String(file.getInputStream(file.getJarEntry(header)).readAllBytes(),
                    StandardCharsets.UTF_8);
            assertTrue(xml.contains("configuration-policy=\"require\""), xml);
            assertTrue(xml.contains("configuration-pid=\"parley.blob.s3\""), xml);
            assertTrue(xml.contains("name=\"parley.blob.store.name\"") && xml.contains("value=\"s3\""), xml);
            assertTrue(xml.contains("interface=\"io.parley.core.spi.blob.BlobStore\""), xml);
            assertTrue(xml.contains("class=\"io.parley.blob.s3.S3BlobStoreComponent\""), xml);
        }
        assertTrue(manifest.getValue("Require-Capability").contains("osgi.extender=osgi.component"),
                manifest.getValue("Require-Capability"));
    }
}
