package io.parley.admin.internal;

import io.parley.core.spi.admin.DeploymentException;
import io.parley.core.spi.admin.DeploymentException.Reason;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The pure file side of deployments: manifest validation, name rules, placement in deploy/, size limit. */
class DeployDirectoryTest {

    @TempDir
    Path home;
    private DeployDirectory dir;

    @BeforeEach
    void setUp() throws IOException {
        Files.createDirectories(home.resolve("deploy"));
        Files.createDirectories(home.resolve("system"));
        dir = new DeployDirectory(home.resolve("deploy"), home.resolve("system"), home.resolve("data/tmp"), 4096);
    }

    /** A bundle jar at {@code where} with the given manifest headers (null: left out) and one class-like entry. */
    static Path jar(Path where, String bsn, String version, int padding) throws IOException {
        Manifest m = new Manifest();
        m.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        if (bsn != null) {
            m.getMainAttributes().putValue("Bundle-SymbolicName", bsn);
        }
        if (version != null) {
            m.getMainAttributes().putValue("Bundle-Version", version);
        }
        Files.createDirectories(where.getParent());
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(where), m)) {
            out.putNextEntry(new JarEntry("x/Data.bin"));
            byte[] noise = new byte[padding];
            new java.util.Random(padding).nextBytes(noise); // incompressible
            out.write(noise);
        }
        return where;
    }

    private Path staged(String bsn, String version) throws IOException {
        return jar(dir.stagingFile(), bsn, version, 100);
    }

    @Test
    void aNewBundleGoesToDeployUnderItsSymbolicNameThroughOneRenameAndTheStagingFileIsGone() throws Exception {
        Path staged = staged("org.example.loc;singleton:=true", "1.0.0");
        assertTrue(staged.startsWith(home.resolve("data/tmp")), "staged outside deploy/: " + staged);
        DeployDirectory.Placement p = dir.place(staged, "org.example.loc", Set.of());
        assertEquals(home.resolve("deploy/org.example.loc.jar"), p.file());
        assertFalse(p.replaced());
        assertEquals(new BundleJar("org.example.loc", "1.0.0"), BundleJar.read(p.file()));
        assertFalse(Files.exists(staged));
        try (Stream<Path> left = Files.list(home.resolve("deploy"))) {
            assertEquals(List.of(p.file()), left.toList(), "no temporary file left in deploy/");
        }
    }

    @Test
    void anUpdateReplacesTheFileHoldingTheBundleWhateverItsNameAndDeletesDuplicates() throws Exception {
        Path old = jar(home.resolve("deploy/location-plugin-1.0.jar"), "org.example.loc", "1.0.0", 10);
        Path duplicate = jar(home.resolve("deploy/zz-copy.jar"), "org.example.loc", "0.9.0", 10);
        Path other = jar(home.resolve("deploy/other.jar"), "org.example.other", "1.0.0", 10);
        DeployDirectory.Placement p = dir.place(staged("org.example.loc", "1.1.0"), null, Set.of());
        assertTrue(p.replaced());
        assertEquals(old, p.file(), "the installed bundle's file is replaced in place (a FileInstall update)");
        assertEquals("1.1.0", BundleJar.read(old).version());
        assertFalse(Files.exists(duplicate), "a second file of the same bundle is deleted");
        assertTrue(Files.exists(other), "other bundles are untouched");
        assertEquals(List.of(duplicate), p.deletedDuplicates());
    }

    @Test
    void refusalsLeaveDeployUntouchedAndDeleteTheUpload() throws Exception {
        jar(home.resolve("system/parley-core.jar"), "io.parley.core", "0.1.0", 10);
        Path notAJar = dir.stagingFile();
        Files.writeString(notAJar, "hello, not a zip", StandardCharsets.UTF_8);
        assertRefused(Reason.INVALID_BUNDLE, notAJar, null);
        assertRefused(Reason.INVALID_BUNDLE, staged(null, "1.0.0"), null);
        assertRefused(Reason.INVALID_BUNDLE, staged("org.example.loc", null), null);
        assertRefused(Reason.INVALID_BUNDLE, staged("org.example.loc", "1.x.banana"), null);
        assertRefused(Reason.INVALID_BUNDLE, staged("../evil", "1.0.0"), null);
        assertRefused(Reason.NAME_MISMATCH, staged("org.example.loc", "1.0.0"), "org.example.other");
        assertRefused(Reason.SYSTEM_BUNDLE, staged("io.parley.core", "9.0.0"), null);
        DeploymentException reserved = assertThrows(DeploymentException.class,
                () -> dir.place(staged("io.parley.admin", "1.0.0"), null, Set.of("io.parley.admin")));
        assertEquals(Reason.SYSTEM_BUNDLE, reserved.reason());
        Path big = jar(dir.stagingFile(), "org.example.loc", "1.0.0", 8192);
        assertRefused(Reason.TOO_LARGE, big, null);
        try (Stream<Path> left = Files.list(home.resolve("deploy"))) {
            assertEquals(0, left.count(), "deploy/ untouched");
        }
        try (Stream<Path> left = Files.list(home.resolve("data/tmp"))) {
            assertEquals(0, left.count(), "every refused upload deleted");
        }
    }

    private void assertRefused(Reason reason, Path staged, String expected) {
        DeploymentException e = assertThrows(DeploymentException.class, () -> dir.place(staged, expected, Set.of()));
        assertEquals(reason, e.reason(), e.getMessage());
        assertFalse(e.getMessage().isBlank());
        assertFalse(Files.exists(staged), "the upload is deleted on refusal");
    }

    @Test
    void aFileOfAnotherBundleUnderTheTargetNameIsNotOverwritten() throws Exception {
        Files.writeString(home.resolve("deploy/org.example.loc.jar"), "not a bundle");
        DeploymentException e = assertThrows(DeploymentException.class,
                () -> dir.place(staged("org.example.loc", "1.0.0"), null, Set.of()));
        assertEquals(Reason.IO, e.reason());
        assertEquals("not a bundle", Files.readString(home.resolve("deploy/org.example.loc.jar")));
    }

    @Test
    void removeDeletesEveryFileOfTheBundleFoundByManifestAndIgnoresDotFiles() throws Exception {
        Path a = jar(home.resolve("deploy/loc.jar"), "org.example.loc", "1.0.0", 10);
        Path hidden = jar(home.resolve("deploy/.org.example.loc.jar.part"), "org.example.loc", "1.0.0", 10);
        Path other = jar(home.resolve("deploy/other.jar"), "org.example.other", "1.0.0", 10);
        assertEquals(List.of(a), dir.remove("org.example.loc"));
        assertFalse(Files.exists(a));
        assertTrue(Files.exists(hidden), "FileInstall ignores dot files; so does remove");
        assertTrue(Files.exists(other));
        assertEquals(List.of(), dir.remove("org.example.loc"));
    }

    @Test
    void namesWithPathCharactersOrOddCharactersAreRefused() throws Exception {
        for (String bad : new String[] {"../x", "a/b", "a\\b", ".hidden", "x..y", "", "a b", "a\u0000b", "é",
                "x".repeat(201), null}) {
            DeploymentException e = assertThrows(DeploymentException.class, () -> BundleJar.checkName(bad),
                    String.valueOf(bad));
            assertEquals(Reason.INVALID_NAME, e.reason());
        }
        for (String good : new String[] {"io.parley.type.location", "org.example-x_1", "a"}) {
            assertEquals(good, BundleJar.checkName(good));
        }
    }

    @Test
    void theStagingFileIsOutsideDeploy() throws Exception {
        Path f = dir.stagingFile();
        assertTrue(Files.isRegularFile(f));
        assertFalse(f.startsWith(home.resolve("deploy")));
        try (OutputStream out = Files.newOutputStream(f)) {
            out.write(1);
        }
    }

    @Test
    void deployIsTheFirstDirectoryFileInstallWatches() {
        Path h = Path.of("/srv/parley");
        assertEquals(Path.of("/srv/parley/deploy"), DeploymentsComponent.deployDirectory(
                "/srv/parley/deploy,/srv/parley/conf", h));
        assertEquals(Path.of("/opt/bundles"), DeploymentsComponent.deployDirectory(" /opt/bundles , x", h));
        assertEquals(Path.of("/srv/parley/deploy"), DeploymentsComponent.deployDirectory(null, h));
    }

    @Test
    void tablesAlignColumnsAndDurationsRead() {
        String t = new Table("USER", "DEVICE").row("alice", "laptop").row("bob", null).toString();
        assertEquals("USER   DEVICE\nalice  laptop\nbob    -", t);
        assertEquals("42s", Table.duration(42_000));
        assertEquals("3m04s", Table.duration(184_000));
        assertEquals("5h02m", Table.duration((5 * 3600 + 120) * 1000L));
        assertEquals("2d03h", Table.duration((2 * 86400 + 3 * 3600) * 1000L));
    }
}
