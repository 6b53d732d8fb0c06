package io.parley.launcher;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StoredJarsTest {

    @Test
    void everyEntryIsStoredWithItsNameOrderContentAndTime(@TempDir Path dir) throws Exception {
        Path jar = dir.resolve("b.jar");
        Manifest manifest = new Manifest();
        manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        manifest.getMainAttributes().putValue("Bundle-SymbolicName", "io.parley.example");
        byte[] big = String.join("", Collections.nCopies(2000, "compressible text "))
                .getBytes(StandardCharsets.UTF_8);
        long time = 1_700_000_000_000L;
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar), manifest)) {
            out.putNextEntry(new ZipEntry("io/"));
            out.closeEntry();
            ZipEntry a = new ZipEntry("io/A.class");
            a.setTime(time);
            out.putNextEntry(a);
            out.write(big);
            out.closeEntry();
            out.putNextEntry(new ZipEntry("empty.txt"));
            out.closeEntry();
        }
        List<String> names = names(jar);
        long deflatedSize = Files.size(jar);

        StoredJars.store(jar);

        assertEquals(names, names(jar), "same entries, same order (the manifest first)");
        assertTrue(Files.size(jar) > deflatedSize, "stored is larger than deflated");
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            for (ZipEntry e : Collections.list(zip.entries())) {
                assertEquals(ZipEntry.STORED, e.getMethod(), e.getName());
            }
            try (InputStream in = zip.getInputStream(zip.getEntry("io/A.class"))) {
                assertArrayEquals(big, in.readAllBytes());
            }
            assertEquals(time / 2000, zip.getEntry("io/A.class").getTime() / 2000, "time kept (DOS precision)");
            assertEquals(0, zip.getEntry("empty.txt").getSize());
        }
        try (JarFile j = new JarFile(jar.toFile())) {
            assertEquals("io.parley.example", j.getManifest().getMainAttributes().getValue("Bundle-SymbolicName"));
        }
        assertEquals(List.of("b.jar"), listing(dir), "no temporary file left");
    }

    @Test
    void aBrokenJarIsLeftAsItWasAndNothingElseIsWritten(@TempDir Path dir) throws Exception {
        Path jar = dir.resolve("broken.jar");
        Files.writeString(jar, "not a zip");
        assertThrows(IOException.class, () -> StoredJars.store(jar));
        assertEquals("not a zip", Files.readString(jar));
        assertEquals(List.of("broken.jar"), listing(dir));
    }

    private static List<String> names(Path jar) throws IOException {
        List<String> out = new ArrayList<>();
        try (ZipFile zip = new ZipFile(jar.toFile())) {
            zip.stream().forEach(e -> out.add(e.getName()));
        }
        return out;
    }

    private static List<String> listing(Path dir) throws IOException {
        try (var s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
