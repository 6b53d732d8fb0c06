package io.parley.launcher;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Enumeration;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipOutputStream;

/**
 * A build step of the distribution ({@code distribution/server}): rewrites every jar of the given directories with
 * its entries stored instead of deflated. Felix reads a bundle's classes and native libraries out of its jar at every
 * start; inflating them was about a quarter of a second of a start pinned to one core (docs/performance.md, session
 * 16). The entries keep their names, order (the manifest first), contents and times, so signatures and manifests
 * are unchanged; the jars take about twice the disk space, the distribution's archive does not grow.
 *
 * <p>Not used at run time: jars dropped into {@code deploy/} later are used as they are.
 */
public final class StoredJars {

    private StoredJars() {
    }

    /** Rewrites the jars of each directory in {@code args}; a missing directory is an error. */
    public static void main(String[] args) throws IOException {
        long before = 0;
        long after = 0;
        int count = 0;
        for (String arg : args) {
            try (DirectoryStream<Path> jars = Files.newDirectoryStream(Path.of(arg), "*.jar")) {
                for (Path jar : jars) {
                    before += Files.size(jar);
                    store(jar);
                    after += Files.size(jar);
                    count++;
                }
            }
        }
        System.out.printf("stored jars: %d rewritten, %d -> %d KB%n", count, before / 1024, after / 1024);
    }

    /**
     * Rewrites {@code jar} in place (through a temporary file and an atomic rename) with every entry stored.
     *
     * @throws IOException if the jar cannot be read or the new one written; the original is then untouched
     */
    public static void store(Path jar) throws IOException {
        Path tmp = jar.resolveSibling("." + jar.getFileName() + ".stored");
        try (ZipFile in = new ZipFile(jar.toFile());
             OutputStream file = Files.newOutputStream(tmp);
             ZipOutputStream out = new ZipOutputStream(file)) {
            Enumeration<? extends ZipEntry> entries = in.entries();
            while (entries.hasMoreElements()) {
                ZipEntry source = entries.nextElement();
                byte[] data;
                try (InputStream s = in.getInputStream(source)) {
                    data = s.readAllBytes();
                }
                ZipEntry entry = new ZipEntry(source.getName());
                entry.setMethod(ZipEntry.STORED);
                entry.setSize(data.length);
                entry.setCompressedSize(data.length);
                CRC32 crc = new CRC32();
                crc.update(data);
                entry.setCrc(crc.getValue());
                entry.setTime(source.getTime());
                if (source.getComment() != null) {
                    entry.setComment(source.getComment());
                }
                out.putNextEntry(entry);
                out.write(data);
                out.closeEntry();
            }
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
        Files.move(tmp, jar, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}
